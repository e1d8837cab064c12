// The pathway editor: the bpmn-js Modeler (from npm) for the diagrams, a properties panel for
// the project's extension properties and lane roles, and the JSON Schema forms beside it.
// Files live in memory until "Save and check" sends them all to the draft; the server then
// names every problem with its file, line and element, and we outline those on the diagram.
// No inline script (CSP): everything the page knows arrives in data attributes.
(function () {
  'use strict';

  const root = document.getElementById('pathway-editor');
  if (!root) { return; }

  const SPIFF = 'spiffworkflow:';
  const files = {};            // name -> text, for every file of the draft
  const kinds = {};            // name -> 'bpmn' | 'dmn' | 'form' | ...
  const roles = JSON.parse(root.dataset.roles);
  const standards = JSON.parse(root.dataset.standards);
  let sha256 = root.dataset.sha256;
  let currentDiagram = null;
  let currentForm = null;
  let problems = [];
  let testRun = null;          // the last test run: what it reached and where it stopped
  let dirty = false;
  let modeler = null;

  const $ = function (id) { return document.getElementById(id); };
  const status = $('editor-status');

  function say(text) { status.textContent = text; }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === 'text') { node.textContent = attributes[key]; }
      else if (key === 'className') { node.className = attributes[key]; }
      else { node.setAttribute(key, attributes[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  // -- extension properties (spiffworkflow:properties, variableName, instructions) ---------

  function extensionValues(bo) {
    return (bo.extensionElements && bo.extensionElements.get('values')) || [];
  }

  function extensionOf(bo, type) {
    return extensionValues(bo).find(function (value) { return value.$type === SPIFF + type; });
  }

  function spiffProperty(bo, name) {
    const holder = extensionOf(bo, 'Properties');
    const found = holder && holder.get('values').find(function (p) { return p.name === name; });
    return found ? (found.value || '') : '';
  }

  function ensureExtensions(element) {
    const bo = element.businessObject;
    const modeling = modeler.get('modeling');
    if (!bo.extensionElements) {
      const created = modeler.get('moddle').create('bpmn:ExtensionElements', { values: [] });
      created.$parent = bo;
      modeling.updateModdleProperties(element, bo, { extensionElements: created });
    }
    return bo.extensionElements;
  }

  function addExtension(element, ext, child) {
    child.$parent = ext;
    modeler.get('modeling').updateModdleProperties(element, ext, { values: ext.get('values').concat(child) });
  }

  function setSpiffProperty(element, name, value) {
    const modeling = modeler.get('modeling');
    const moddle = modeler.get('moddle');
    const ext = ensureExtensions(element);
    let holder = extensionOf(element.businessObject, 'Properties');
    if (!holder) {
      if (!value) { return; }
      holder = moddle.create(SPIFF + 'Properties', { values: [] });
      addExtension(element, ext, holder);
    }
    const list = holder.get('values');
    const existing = list.find(function (p) { return p.name === name; });
    if (!value) {
      if (existing) {
        modeling.updateModdleProperties(element, holder, { values: list.filter(function (p) { return p !== existing; }) });
      }
    } else if (existing) {
      modeling.updateModdleProperties(element, existing, { value: value });
    } else {
      const property = moddle.create(SPIFF + 'Property', { name: name, value: value });
      property.$parent = holder;
      modeling.updateModdleProperties(element, holder, { values: list.concat(property) });
    }
  }

  function bodyValue(bo, type) {
    const found = extensionOf(bo, type);
    return found ? (found.value || '') : '';
  }

  function setBody(element, type, value) {
    const ext = ensureExtensions(element);
    const found = extensionOf(element.businessObject, type);
    if (found) {
      if (value) {
        modeler.get('modeling').updateModdleProperties(element, found, { value: value });
      } else {
        modeler.get('modeling').updateModdleProperties(element, ext, {
          values: ext.get('values').filter(function (v) { return v !== found; })
        });
      }
    } else if (value) {
      addExtension(element, ext, modeler.get('moddle').create(SPIFF + type, { value: value }));
    }
  }

  // -- roles and lanes -----------------------------------------------------------------------

  function roleForLaneName(name) {
    const wanted = (name || '').toLowerCase().split(/\s+/).filter(Boolean).join(' ');
    const found = roles.find(function (r) { return r.role === wanted || r.lanes.indexOf(wanted) >= 0; });
    return found || null;
  }

  function laneOf(element) {
    const bo = element.businessObject;
    const lanes = modeler.get('elementRegistry').filter(function (e) { return e.type === 'bpmn:Lane'; });
    const lane = lanes.find(function (l) {
      return (l.businessObject.get('flowNodeRef') || []).indexOf(bo) >= 0;
    });
    return lane ? lane.businessObject.name || lane.id : null;
  }

  // -- the properties panel --------------------------------------------------------------------

  function field(id, label, input, hint) {
    const group = el('div', { className: 'nhsuk-form-group' });
    group.appendChild(el('label', { className: 'nhsuk-label', for: id, text: label }));
    if (hint) {
      const hintNode = el('div', { className: 'nhsuk-hint', id: id + '-hint', text: hint });
      group.appendChild(hintNode);
      input.setAttribute('aria-describedby', id + '-hint');
    }
    input.id = id;
    group.appendChild(input);
    return group;
  }

  function textInput(value, onChange, className) {
    const input = el('input', { className: className || 'nhsuk-input', type: 'text', spellcheck: 'false' });
    input.value = value;
    input.addEventListener('change', function () { onChange(input.value.trim()); });
    return input;
  }

  function select(options, value, onChange) {
    const node = el('select', { className: 'nhsuk-select' });
    options.forEach(function (option) {
      const opt = el('option', { value: option[0], text: option[1] });
      if (option[0] === value) { opt.selected = true; }
      node.appendChild(opt);
    });
    node.addEventListener('change', function () { onChange(node.value); });
    return node;
  }

  function problemsFor(element) {
    return problems.filter(function (p) { return p.file === currentDiagram && p.element_id === element.id; });
  }

  function renderProblems(element, body) {
    const mine = problemsFor(element);
    if (!mine.length) { return; }
    const list = el('ul', { className: 'nhsuk-list app-editor__element-problems' });
    mine.forEach(function (p) { list.appendChild(el('li', { className: 'nhsuk-error-message', text: p.message })); });
    body.appendChild(list);
  }

  function nameField(element, body) {
    body.appendChild(field('prop-name', 'Name', textInput(element.businessObject.name || '', function (value) {
      modeler.get('modeling').updateProperties(element, { name: value });
    })));
  }

  function userTaskFields(element, body) {
    const bo = element.businessObject;
    const formNames = Object.keys(kinds).filter(function (n) { return kinds[n] === 'form'; }).sort();
    const form = spiffProperty(bo, 'formJsonSchemaFilename');
    const options = [['', 'Choose a form']].concat(formNames.map(function (n) { return [n, n]; }));
    if (form && formNames.indexOf(form) < 0) { options.push([form, form + ' (missing)']); }
    body.appendChild(field('prop-form', 'Form', select(options, form, function (value) {
      setSpiffProperty(element, 'formJsonSchemaFilename', value);
      if (value) { showForm(value); }
    }), 'Add a new form under Forms below.'));

    const lane = laneOf(element);
    const fromLane = roleForLaneName(lane);
    const laneText = fromLane ? 'From the lane: ' + fromLane.label : (lane ? 'Lane "' + lane + '" is not a role' : 'In no lane');
    const roleOptions = [['', laneText]].concat(roles.map(function (r) { return [r.role, r.label]; }));
    body.appendChild(field('prop-role', 'Who does it', select(roleOptions, spiffProperty(bo, 'role'), function (value) {
      setSpiffProperty(element, 'role', value);
    }), 'Tasks go to the role of their lane unless you choose another.'));

    const due = el('input', { className: 'nhsuk-input nhsuk-input--width-4', type: 'text', inputmode: 'numeric', pattern: '[0-9]*' });
    due.value = spiffProperty(bo, 'dueWorkingDays');
    due.addEventListener('change', function () { setSpiffProperty(element, 'dueWorkingDays', due.value.trim()); });
    body.appendChild(field('prop-due', 'Due within (working days)', due, 'Counted from when the task becomes ready. Leave empty for no due date.'));

    const chosen = spiffProperty(bo, 'standards').split(',').map(function (c) { return c.trim(); }).filter(Boolean);
    const fieldset = el('fieldset', { className: 'nhsuk-fieldset', 'aria-describedby': 'prop-standards-hint' });
    fieldset.appendChild(el('legend', { className: 'nhsuk-fieldset__legend nhsuk-fieldset__legend--s', text: 'Standards of care it evidences' }));
    fieldset.appendChild(el('div', { className: 'nhsuk-hint', id: 'prop-standards-hint', text: 'Completing the task counts towards these standards in the reports.' }));
    const boxes = el('div', { className: 'nhsuk-checkboxes nhsuk-checkboxes--small' });
    Object.keys(standards).forEach(function (code) {
      const id = 'prop-standard-' + code;
      const box = el('input', { className: 'nhsuk-checkboxes__input', id: id, type: 'checkbox', value: code });
      box.checked = chosen.indexOf(code) >= 0;
      box.addEventListener('change', function () {
        const codes = Array.prototype.slice.call(boxes.querySelectorAll('input:checked')).map(function (b) { return b.value; });
        setSpiffProperty(element, 'standards', codes.join(','));
      });
      boxes.appendChild(el('div', { className: 'nhsuk-checkboxes__item' }, [
        box, el('label', { className: 'nhsuk-label nhsuk-checkboxes__label', for: id, text: code + ' ' + standards[code] })
      ]));
    });
    fieldset.appendChild(boxes);
    body.appendChild(el('div', { className: 'nhsuk-form-group' }, [fieldset]));

    body.appendChild(field('prop-variable', 'Answers saved as', textInput(bodyValue(bo, 'VariableName'), function (value) {
      setBody(element, 'VariableName', value);
    }, 'nhsuk-input nhsuk-input--width-20'), 'A short name for this form\'s answers in the pathway data, like contact_preferences.'));

    const instructions = el('textarea', { className: 'nhsuk-textarea', rows: '3' });
    instructions.value = bodyValue(bo, 'InstructionsForEndUser');
    instructions.addEventListener('change', function () { setBody(element, 'InstructionsForEndUser', instructions.value.trim()); });
    body.appendChild(field('prop-instructions', 'Instructions shown above the form', instructions));
  }

  function laneFields(element, body) {
    const mapped = roleForLaneName(element.businessObject.name);
    const options = [['', mapped ? mapped.label : 'Not a role']].concat(roles.map(function (r) { return [r.role, r.label]; }));
    body.appendChild(field('prop-lane-role', 'Tasks in this lane go to', select(options, '', function (value) {
      const role = roles.find(function (r) { return r.role === value; });
      if (role) { modeler.get('modeling').updateProperties(element, { name: role.label }); }
    }), mapped ? 'This lane\'s name means ' + mapped.label + '.' : 'Choose a role: the lane is renamed to it.'));
  }

  // The decisions of the draft's .dmn files (their ids), as a business rule task names them.
  function decisionIds() {
    const ids = [];
    Object.keys(kinds).filter(function (n) { return kinds[n] === 'dmn'; }).sort().forEach(function (name) {
      const pattern = /<(?:[A-Za-z0-9_]+:)?decision\s[^>]*?\bid="([^"]+)"/g;
      let match = pattern.exec(files[name]);
      while (match) { ids.push(match[1]); match = pattern.exec(files[name]); }
    });
    return ids;
  }

  function businessRuleTaskFields(element, body) {
    const chosen = bodyValue(element.businessObject, 'CalledDecisionId');
    const ids = decisionIds();
    const options = [['', 'Choose a decision table']].concat(ids.map(function (d) { return [d, d]; }));
    if (chosen && ids.indexOf(chosen) < 0) { options.push([chosen, chosen + ' (missing)']); }
    body.appendChild(field('prop-decision', 'Decision table', select(options, chosen, function (value) {
      setBody(element, 'CalledDecisionId', value);
    }), 'The table that decides here; its outputs become data the next steps read. Tables are edited under Decision tables below.'));
  }

  function makeUserTaskButton(element, body) {
    const button = el('button', { type: 'button', className: 'nhsuk-button nhsuk-button--secondary', text: 'Make it a user task' });
    button.addEventListener('click', function () {
      const replaced = modeler.get('bpmnReplace').replaceElement(element, { type: 'bpmn:UserTask' });
      modeler.get('selection').select(replaced);
    });
    body.appendChild(el('p', { text: 'A user task is work for a person, with a form.' }));
    body.appendChild(button);
    const rules = el('button', { type: 'button', className: 'nhsuk-button nhsuk-button--secondary', text: 'Make it a business rule task' });
    rules.addEventListener('click', function () {
      const replaced = modeler.get('bpmnReplace').replaceElement(element, { type: 'bpmn:BusinessRuleTask' });
      modeler.get('selection').select(replaced);
    });
    body.appendChild(el('p', { text: 'A business rule task applies a decision table.' }));
    body.appendChild(rules);
  }

  function showProperties(element) {
    const body = $('properties-body');
    body.textContent = '';
    if (!element || element.type === 'bpmn:Process' || element.type === 'bpmn:Collaboration' || element.type === 'label') {
      body.appendChild(el('p', { text: 'Select a step or a lane on the diagram.' }));
      return;
    }
    const kind = element.type.replace('bpmn:', '').replace(/([a-z])([A-Z])/g, '$1 $2');
    body.appendChild(el('p', { className: 'nhsuk-body-s app-editor__kind', text: kind + ' · ' + element.id }));
    renderProblems(element, body);
    nameField(element, body);
    if (element.type === 'bpmn:UserTask') { userTaskFields(element, body); }
    else if (element.type === 'bpmn:BusinessRuleTask') { businessRuleTaskFields(element, body); }
    else if (element.type === 'bpmn:Lane' || element.type === 'bpmn:Participant') { laneFields(element, body); }
    else if (element.type === 'bpmn:Task') { makeUserTaskButton(element, body); }
  }

  // -- diagrams --------------------------------------------------------------------------------

  async function keepCurrentDiagram() {
    if (!currentDiagram) { return; }
    const result = await modeler.saveXML({ format: true });
    files[currentDiagram] = result.xml;
  }

  function markProblems() {
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    registry.forEach(function (e) { canvas.removeMarker(e, 'app-problem'); });
    problems.forEach(function (p) {
      if (p.file === currentDiagram && p.element_id && registry.get(p.element_id)) {
        canvas.addMarker(p.element_id, 'app-problem');
      }
    });
    markTestRun(canvas, registry);
  }

  // The last test run on the diagram: what its patients reached (green) and where one of them
  // was stopped (red).
  function markTestRun(canvas, registry) {
    registry.forEach(function (e) {
      canvas.removeMarker(e, 'app-reached');
      canvas.removeMarker(e, 'app-failed');
    });
    if (!testRun) { return; }
    (testRun.reached[currentDiagram] || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'app-reached'); }
    });
    (testRun.failed[currentDiagram] || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'app-failed'); }
    });
  }

  // Fitting a long pathway into the window makes it unreadable: start at a working size at
  // its beginning, clear of the palette, when fitting would shrink it too far.
  function readableZoom() {
    const canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport');
    const fitted = canvas.viewbox();
    if (fitted.scale >= 0.75) { return; }
    const scale = 0.85;
    canvas.viewbox({
      x: fitted.inner.x - 110 / scale,
      y: fitted.inner.y - 20 / scale,
      width: fitted.outer.width / scale,
      height: fitted.outer.height / scale
    });
  }

  function importProblem(name, error) {
    return /no diagram to display/.test(error.message)
      ? name + ' has no layout (BPMN DI), so it cannot be drawn. Lay it out in a BPMN modeller such as Camunda Modeler and open the file here.'
      : name + ' could not be opened: ' + error.message + '.';
  }

  async function openDiagram(name, xml) {
    let result;
    try {
      result = await modeler.importXML(xml);
    } catch (error) {
      currentDiagram = null;  // nothing drawn: keep the file as it is, never save a blank
      $('diagram-file').value = name;
      root.dataset.diagram = '';
      throw new Error(importProblem(name, error));
    }
    currentDiagram = name;
    $('diagram-file').value = name;
    readableZoom();
    markProblems();
    showProperties(null);
    root.dataset.diagram = name;
    if (result.warnings.length) {
      say(name + ' opened with ' + result.warnings.length + ' warning(s): ' + result.warnings[0].message +
          '. Parts the editor could not read would be lost when you save.');
    } else {
      say('Editing ' + name + '. Changes are kept here until you save.');
    }
    return result;
  }

  async function switchDiagram(name) {
    await keepCurrentDiagram();
    try {
      await openDiagram(name, files[name]);
    } catch (error) {
      say(error.message);
    }
  }

  function download() {
    const name = $('diagram-file').value;
    return keepCurrentDiagram().then(function () {
      const blob = new Blob([files[name]], { type: 'application/xml' });
      const link = el('a', { href: URL.createObjectURL(blob), download: name });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  function openFile(input) {
    const file = input.files[0];
    if (!file) { return; }
    const reader = new FileReader();
    reader.onload = function () {
      const target = $('diagram-file').value;
      const previous = files[target];
      openDiagram(target, String(reader.result)).then(function () {
        dirty = true;
        return keepCurrentDiagram().then(refreshStart);
      }).then(function () {
        say(file.name + ' replaced ' + target + '. Save to check it.');
      }).catch(function (error) {
        say(error.message.replace(target, file.name) + ' Nothing changed.');
        openDiagram(target, previous).catch(function () { /* it could not be drawn before either */ });
      });
      input.value = '';
    };
    reader.readAsText(file);
  }

  // -- forms -----------------------------------------------------------------------------------

  function checkFormText() {
    const error = $('form-json-error');
    const group = $('form-json-group');
    let message = '';
    try {
      const schema = JSON.parse($('form-json').value);
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        message = 'A form is a JSON object with "type": "object" and "properties".';
      } else if (schema.type !== 'object' || typeof schema.properties !== 'object') {
        message = 'A form needs "type": "object" and its fields under "properties".';
      }
    } catch (e) {
      message = 'This is not valid JSON: ' + e.message;
    }
    problems.filter(function (p) { return p.file === currentForm; }).forEach(function (p) {
      message = message || p.message;
    });
    error.hidden = !message;
    error.textContent = message ? 'Error: ' + message : '';
    group.classList.toggle('nhsuk-form-group--error', Boolean(message));
    $('form-json').classList.toggle('nhsuk-textarea--error', Boolean(message));
    return !message;
  }

  function refreshFormList(selected) {
    const list = $('form-file');
    list.textContent = '';
    Object.keys(kinds).filter(function (n) { return kinds[n] === 'form'; }).sort().forEach(function (name) {
      list.appendChild(el('option', { value: name, text: name }));
    });
    if (selected) { list.value = selected; }
  }

  function showForm(name) {
    keepForm();
    currentForm = name;
    $('form-file').value = name;
    $('form-json-name').textContent = name;
    $('form-json').value = files[name] || '';
    checkFormText();
  }

  function keepForm() {
    if (currentForm) { files[currentForm] = $('form-json').value; }
  }

  function addForm() {
    const input = $('new-form-name');
    let name = input.value.trim();
    if (name && !/\.json$/.test(name)) { name += '.schema.json'; }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.json$/.test(name) || kinds[name]) {
      say(kinds[name] ? 'There is already a form called ' + name + '.' : 'Name the form with letters, digits, dots and hyphens, like contact-preferences.schema.json.');
      input.focus();
      return;
    }
    kinds[name] = 'form';
    files[name] = JSON.stringify({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'New form',
      type: 'object',
      required: [],
      properties: { notes: { type: 'string', title: 'Notes', maxLength: 2000 } }
    }, null, 2);
    input.value = '';
    refreshFormList(name);
    showForm(name);
    dirty = true;
    const selected = modeler.get('selection').get()[0];
    if (selected) { showProperties(selected); }
    say('Form ' + name + ' added. Choose it as the form of a user task, then save.');
  }

  // -- the process that starts the pathway ----------------------------------------------------
  // A file may hold several executable processes (a Camunda collaboration, a process kept
  // for later). When it does, the manager chooses the one a new patient starts on; the
  // choice is sent with every save. Empty means "the one no other process calls".

  const BPMN_NS = 'http://www.omg.org/spec/BPMN/20100524/MODEL';

  function executableProcesses() {
    const found = [];
    Object.keys(files).sort().forEach(function (name) {
      if (kinds[name] !== 'bpmn') { return; }
      const doc = new DOMParser().parseFromString(files[name], 'application/xml');
      Array.prototype.forEach.call(doc.getElementsByTagNameNS(BPMN_NS, 'process'), function (p) {
        if (p.getAttribute('isExecutable') !== 'false' && p.getAttribute('id')) {
          found.push({ id: p.getAttribute('id'), name: p.getAttribute('name') || '' });
        }
      });
    });
    return found;
  }

  function refreshStart() {
    const choice = $('start-process');
    const current = choice.options.length ? choice.value : (root.dataset.processId || '');
    const processes = executableProcesses();
    choice.textContent = '';
    choice.appendChild(el('option', { value: '', text: 'The one no other process calls' }));
    processes.forEach(function (p) {
      choice.appendChild(el('option', { value: p.id, text: p.name ? p.name + ' (' + p.id + ')' : p.id }));
    });
    choice.value = processes.some(function (p) { return p.id === current; }) ? current : '';
    $('start-process-group').hidden = processes.length < 2;
  }

  function startChoice() {
    return $('start-process-group').hidden ? '' : $('start-process').value;
  }

  // -- saving, problems, publishing -----------------------------------------------------------

  function showProblems(found) {
    problems = found;
    const box = $('problems');
    const list = $('problem-list');
    list.textContent = '';
    found.forEach(function (p) {
      const where = [p.file, p.line ? 'line ' + p.line : null, p.element_name || p.element_id].filter(Boolean).join(', ');
      const link = el('a', { href: '#editor-canvas', text: (where ? where + ': ' : '') + p.message });
      link.addEventListener('click', function (event) {
        event.preventDefault();
        goToProblem(p);
      });
      // The validator's or engine's own words, for whoever supports the editor.
      const details = p.details ? el('details', { className: 'app-editor__problem-details' }, [
        el('summary', { text: 'What the checker said' }),
        el('code', { text: p.details })
      ]) : null;
      list.appendChild(el('li', {}, [link, details]));
    });
    box.hidden = !found.length;
    root.dataset.problems = String(found.length);
    markProblems();
    if (currentDiagram) { showProperties(modeler.get('selection').get()[0]); }  // its problems too
    checkFormText();
    if (found.length) { box.focus(); }
  }

  async function goToProblem(problem) {
    if (kinds[problem.file] === 'dmn') {  // decision tables have their own editor
      window.location.href = root.dataset.tablesUrl + '/' + encodeURIComponent(problem.file);
      return;
    }
    if (kinds[problem.file] === 'form') {
      showForm(problem.file);
      $('form-json').focus();
      return;
    }
    if (problem.file && kinds[problem.file] === 'bpmn' && problem.file !== currentDiagram) {
      await switchDiagram(problem.file);
    }
    const element = problem.element_id && modeler.get('elementRegistry').get(problem.element_id);
    if (element) {
      modeler.get('canvas').scrollToElement(element);
      modeler.get('selection').select(element);
      $('properties').focus();
    }
  }

  function payload() {
    return Object.keys(files).sort().map(function (name) { return { name: name, content: files[name] }; });
  }

  async function call(url, method, body) {
    const response = await fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': $('csrf-token').value, Accept: 'application/json' },
      body: body ? JSON.stringify(body) : undefined
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { status: response.status, data: data };
  }

  function errorText(data) {
    const error = data.error || {};
    const details = error.details ? Object.values(error.details).filter(function (v) { return typeof v === 'string'; }) : [];
    return [error.message].concat(details).filter(Boolean).join(' ') || 'Something went wrong.';
  }

  async function save() {
    await keepCurrentDiagram();
    keepForm();
    refreshStart();
    say('Saving and checking…');
    const result = await call(root.dataset.saveUrl, 'PUT', {
      expected_sha256: sha256, files: payload(), process_id: startChoice()
    });
    if (result.status !== 200) {
      say('Not saved. ' + errorText(result.data));
      root.dataset.saved = 'failed';
      return false;
    }
    sha256 = result.data.version.sha256;
    dirty = false;
    showProblems(result.data.problems);
    root.dataset.saved = String(Date.now());
    say(result.data.valid
      ? 'Saved. No problems found: you can publish this version.'
      : 'Saved. ' + result.data.problems.length + ' problem(s) to fix before publishing.');
    return result.data.valid;
  }

  async function publish() {
    const valid = await save();
    if (!valid) { return; }
    // The test run first (publishing repeats it, from its cache): errors stop here, and
    // warnings wait for the manager to tick that they have read them.
    const confirmed = !$('confirm-group').hidden && $('confirm-warnings').checked;
    if (!confirmed) {
      say('Test patients are going through the pathway before it is published: this can take some seconds…');
      const tested = await call(root.dataset.testRunUrl, 'POST');
      if (tested.status !== 200) {
        say('Not published: the test run could not be done. ' + errorText(tested.data));
        return;
      }
      showTestRun(tested.data, !tested.data.errors && tested.data.warnings > 0);
      if (tested.data.errors) {
        showProblems(tested.data.problems.filter(function (p) { return p.severity === 'error'; }));
        say('Not published: the test run found errors. Fix them (see Test run for the path to each).');
        return;
      }
      if (tested.data.warnings) {
        say('Not published yet: the test run found warnings. Read them under Test run, tick the box and publish again.');
        $('test-run').focus();
        return;
      }
    }
    say('Publishing…');
    const result = await call(root.dataset.publishUrl, 'POST', { confirm_warnings: confirmed });
    if (result.status === 422) {
      const details = result.data.error.details || {};
      if (details.test_run) { showTestRun(details.test_run, Boolean(details.needs_confirmation)); }
      showProblems((details.problems || []).filter(function (p) { return !p.severity || p.severity === 'error'; }));
      say('Not published: fix the problems listed above.');
      return;
    }
    if (result.status !== 200) {
      say('Not published. ' + errorText(result.data));
      return;
    }
    root.dataset.published = 'yes';
    $('published-text').textContent = 'Version ' + result.data.version + ' is published. New patients start on it; running patients stay on their version until you move them.';
    const move = $('move-link');
    if (root.dataset.moveUrl) { move.href = root.dataset.moveUrl; } else { move.parentNode.hidden = true; }
    $('published').hidden = false;
    root.querySelectorAll('button, input, select, textarea').forEach(function (control) { control.disabled = true; });
    say('Published. This draft is now the current version and can no longer change.');
    $('published').scrollIntoView();
  }

  // -- the test run ----------------------------------------------------------------------------
  // Synthetic patients through the saved draft, as publishing does first: each problem with
  // the path that brought a patient there, and on the diagram what they reached.

  const SEVERITY = { error: ['Error', 'nhsuk-tag--red'], warning: ['Warning', 'nhsuk-tag--orange'], note: ['Note', 'nhsuk-tag--grey'] };

  function showTestRun(run, needsConfirmation) {
    testRun = run;
    const coverage = run.coverage;
    $('test-run-summary').textContent = run.patients + (run.patients === 1 ? ' test patient, ' : ' test patients, ') + run.steps + ' steps' +
      (coverage ? ': ' + coverage.user_tasks_reached + ' of ' + coverage.user_tasks + ' user tasks reached, ' +
        coverage.branches_taken + ' of ' + coverage.branches + ' gateway branches taken' : '') + '. ' +
      (run.errors ? run.errors + ' error(s) to fix' : 'No errors') +
      (run.warnings ? ', ' + run.warnings + ' warning(s) to read.' : (run.errors ? '.' : ': it can be published.'));
    const list = $('test-run-list');
    list.textContent = '';
    run.problems.forEach(function (p) {
      const severity = SEVERITY[p.severity] || SEVERITY.error;
      const where = [p.file, p.line ? 'line ' + p.line : null, p.element_name || p.element_id].filter(Boolean).join(', ');
      const link = el('a', { href: '#editor-canvas', text: (where ? where + ': ' : '') + p.message });
      link.addEventListener('click', function (event) {
        event.preventDefault();
        goToProblem(p);
      });
      const path = p.path && p.path.length
        ? el('p', { className: 'nhsuk-body-s app-test-run__path', text: 'Reached by: ' + p.path.join(' → ') })
        : null;
      list.appendChild(el('li', { className: 'app-test-run__' + p.severity }, [
        el('strong', { className: 'nhsuk-tag ' + severity[1], text: severity[0] }), document.createTextNode(' '), link, path
      ]));
    });
    $('confirm-group').hidden = !needsConfirmation;
    $('confirm-warnings').checked = false;
    $('test-run').hidden = false;
    root.dataset.testRun = run.errors ? 'errors' : (run.warnings ? 'warnings' : 'passed');
    markProblems();
  }

  async function runTestRun() {
    await save();
    if (root.dataset.saved === 'failed') { return; }
    say('Test patients are going through the pathway: this can take some seconds…');
    const result = await call(root.dataset.testRunUrl, 'POST');
    if (result.status !== 200) {
      say('The test run could not be done. ' + errorText(result.data));
      return;
    }
    showTestRun(result.data, false);
    say('Test run done: ' + $('test-run-summary').textContent);
    $('test-run').focus();
  }

  // -- start -------------------------------------------------------------------------------------

  async function load() {
    const listed = JSON.parse(root.dataset.files);
    await Promise.all(listed.map(async function (file) {
      const response = await fetch(file.url, { credentials: 'same-origin' });
      files[file.name] = await response.text();
      kinds[file.name] = file.kind;
    }));
    const moddle = await (await fetch(root.dataset.moddleUrl, { credentials: 'same-origin' })).json();
    modeler = new window.BpmnJS({
      container: $('editor-canvas'),
      keyboard: { bindTo: document },
      moddleExtensions: { spiffworkflow: moddle }
    });
    window.mdtPathwayEditor = modeler;  // for the browser tests
    const diagrams = listed.filter(function (f) { return f.kind === 'bpmn'; }).map(function (f) { return f.name; });
    diagrams.forEach(function (name) { $('diagram-file').appendChild(el('option', { value: name, text: name })); });
    modeler.on('selection.changed', function (event) { showProperties(event.newSelection[0]); });
    modeler.on('commandStack.changed', function () {
      dirty = true;
      const selected = modeler.get('selection').get()[0];
      if (selected && !document.activeElement.closest('#properties')) { showProperties(selected); }
    });
    try {
      await openDiagram(diagrams[0], files[diagrams[0]]);
    } catch (error) {
      say(error.message);
    }
    refreshFormList();
    refreshStart();
    const firstForm = Object.keys(kinds).filter(function (n) { return kinds[n] === 'form'; }).sort()[0];
    if (firstForm) { showForm(firstForm); }
    root.dataset.ready = 'yes';
  }

  $('diagram-file').addEventListener('change', function (event) { switchDiagram(event.target.value); });
  $('start-process').addEventListener('change', function () { dirty = true; });
  $('form-file').addEventListener('change', function (event) { showForm(event.target.value); });
  $('form-json').addEventListener('input', function () { dirty = true; });
  $('form-json').addEventListener('change', function () { keepForm(); checkFormText(); });
  $('add-form').addEventListener('click', addForm);
  $('save-draft').addEventListener('click', function () { save(); });
  $('publish').addEventListener('click', function () { publish(); });
  $('test-run-button').addEventListener('click', function () { runTestRun(); });
  $('download').addEventListener('click', function () { download(); });
  $('open-file').addEventListener('change', function (event) { openFile(event.target); });
  window.addEventListener('beforeunload', function (event) {
    if (dirty && root.dataset.published !== 'yes') { event.preventDefault(); event.returnValue = ''; }
  });

  load().catch(function (error) {
    root.dataset.ready = 'error';
    say('The editor could not start: ' + error.message);
  });
})();
