// Shows a BPMN diagram with bpmn-js (from npm). The container's data attributes say where
// the XML is and, on a patient record, which elements are done and which are waiting now.
// The outcome is written to data-import-status for people and for tests.
(function () {
  'use strict';

  function words(value) {
    return value ? value.split(' ').filter(Boolean) : [];
  }

  function highlight(viewer, container) {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const marked = [];
    words(container.dataset.completed).concat(words(container.dataset.current)).forEach(function (id) {
      if (registry.get(id)) { marked.push(id); }
    });
    words(container.dataset.completed).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'app-completed'); }
    });
    const current = words(container.dataset.current).filter(function (id) { return registry.get(id); });
    current.forEach(function (id) { canvas.addMarker(id, 'app-current'); });
    return current.length ? registry.get(current[0]) : null;
  }

  // A version comparison: elements added, changed (on the new diagram) or removed (on the old).
  function markChanges(viewer, container) {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    let marked = 0;
    ['added', 'changed', 'removed'].forEach(function (kind) {
      words(container.dataset[kind]).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, 'app-' + kind); marked += 1; }
      });
    });
    container.dataset.marked = String(marked);
  }

  // Operations: how many patients wait at each element, as a badge on its corner.
  function drawCounts(viewer, container) {
    if (!container.dataset.counts) { return null; }
    const counts = JSON.parse(container.dataset.counts);
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    let drawn = 0;
    let busiest = null;
    Object.keys(counts).forEach(function (id) {
      if (!registry.get(id)) { return; }
      if (!busiest || counts[id] > counts[busiest]) { busiest = id; }
      const badge = document.createElement('span');
      badge.className = 'app-waiting-badge';
      badge.textContent = String(counts[id]);
      badge.title = counts[id] + ' waiting';
      badge.dataset.element = id;
      overlays.add(id, { position: { top: -12, right: 12 }, html: badge });
      drawn += 1;
    });
    container.dataset.badges = String(drawn);
    return busiest ? registry.get(busiest) : null;
  }

  function focusOn(viewer, element) {
    // Big pathways are unreadable when fitted whole: show the current step at a readable size.
    const canvas = viewer.get('canvas');
    const box = canvas.viewbox();
    canvas.zoom(0.9);
    const zoomed = canvas.viewbox();
    canvas.viewbox({
      x: element.x + element.width / 2 - zoomed.width / 2,
      y: Math.max(box.y, element.y + element.height / 2 - zoomed.height / 2),
      width: zoomed.width,
      height: zoomed.height
    });
  }

  async function show(container) {
    const status = document.getElementById('diagram-status');
    const viewer = new window.BpmnJS({ container: container });
    window.mdtDiagramViewer = viewer;
    try {
      const response = await fetch(container.dataset.xmlUrl, { credentials: 'same-origin' });
      const result = await viewer.importXML(await response.text());
      viewer.get('canvas').zoom('fit-viewport');
      markChanges(viewer, container);
      const busiest = drawCounts(viewer, container);
      const current = highlight(viewer, container) || busiest;
      if (current) { focusOn(viewer, current); }
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
