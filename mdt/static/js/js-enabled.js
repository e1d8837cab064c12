// Runs first in <body>: lets nhsuk-frontend styles know JavaScript is available.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');
