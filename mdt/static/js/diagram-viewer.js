// Shows a BPMN diagram with bpmn-js (from npm). The container's data attributes say where
// the XML is; the outcome is written to data-import-status for people and for tests.
(function () {
  'use strict';

  async function show(container) {
    const status = document.getElementById('diagram-status');
    const viewer = new window.BpmnJS({ container: container });
    window.mdtDiagramViewer = viewer;
    try {
      const response = await fetch(container.dataset.xmlUrl, { credentials: 'same-origin' });
      const xml = await response.text();
      const result = await viewer.importXML(xml);
      viewer.get('canvas').zoom('fit-viewport');
      container.dataset.importWarnings = String(result.warnings.length);
      container.dataset.importStatus = 'ok';
      status.textContent = result.warnings.length
        ? 'The diagram opened with ' + result.warnings.length + ' warning(s).'
        : 'Drag to move the diagram; scroll to zoom.';
    } catch (error) {
      container.dataset.importStatus = 'error';
      status.textContent = 'The diagram could not be shown: ' + error.message;
    }
  }

  document.querySelectorAll('[data-xml-url]').forEach(show);
})();
