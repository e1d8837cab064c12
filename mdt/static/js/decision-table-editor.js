// The decision table editor: dmn-js opens the table held in the page's XML box and, when
// the manager saves, writes the table back into that box before the form is posted. Without
// JavaScript (or when dmn-js cannot open the file) the XML box is the editor.
(function () {
  'use strict';

  const container = document.getElementById('dmn-editor');
  const form = document.getElementById('save-table');
  const xml = document.getElementById('xml');
  const status = document.getElementById('dmn-status');
  if (!container || !form || !xml || !window.DmnJS) { return; }

  function say(text) { status.textContent = text; }

  function showXml() {
    // Nothing is lost: the manager edits the XML itself.
    xml.closest('.app-dmn-xml').classList.add('app-dmn-xml--shown');
    container.hidden = true;
  }

  const modeler = new window.DmnJS({ container: container, common: { keyboard: { bindTo: window } } });
  window.mdtDecisionTableEditor = modeler;  // for the browser tests
  let opened = false;

  async function open() {
    await modeler.importXML(xml.value);
    const view = modeler.getViews().find(function (v) { return v.type === 'decisionTable'; });
    if (!view) { throw new Error('this file holds no decision table'); }
    await modeler.open(view);
    opened = true;
    container.dataset.ready = 'yes';
  }

  form.addEventListener('submit', async function (event) {
    if (!opened || form.dataset.filled === 'yes') { return; }
    event.preventDefault();
    try {
      const result = await modeler.saveXML({ format: true });
      xml.value = result.xml;
      form.dataset.filled = 'yes';
      form.submit();
    } catch (error) {
      say('The table could not be saved from the editor: ' + error.message + '. Edit its XML below.');
      showXml();
    }
  });

  open().catch(function (error) {
    container.dataset.ready = 'error';
    say('The decision table editor cannot open this file (' + error.message + '): edit its XML below.');
    showXml();
  });
})();
