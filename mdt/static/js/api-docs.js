// The browsable API description: Swagger UI (from npm) reading our OpenAPI document.
(function () {
  var element = document.getElementById("swagger-ui");
  if (!element || !window.SwaggerUIBundle) { return; }
  window.SwaggerUIBundle({
    url: element.getAttribute("data-spec-url"),
    domNode: element,
    deepLinking: false,
    supportedSubmitMethods: ["get"]
  });
})();
