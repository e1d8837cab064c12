// The form designer's enhancements. Without them the page works by its buttons (every
// change is a form post); with them the preview follows what is typed, raw JSON is checked
// as it is typed, and each question shows only the settings of its type of answer.
(function () {
  'use strict';
  const form = document.getElementById('form-designer');
  if (!form) return;
  const preview = document.getElementById('form-preview');
  const WAIT_MS = 400;

  function debounce(fn) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, WAIT_MS);
    };
  }

  function post(url, extra = {}) {
    const body = new FormData(form);
    body.delete('action');
    for (const [key, value] of Object.entries(extra)) body.set(key, value);
    return fetch(url, {
      method: 'POST',
      body,
      credentials: 'same-origin',
      headers: { 'X-CSRFToken': body.get('csrf_token') || '' },
    });
  }

  // Only the latest answer is shown: a slow reply to an earlier keystroke is dropped.
  let previewSeq = 0;
  async function refreshPreview() {
    const seq = ++previewSeq;
    const generated = document.getElementById('generated-json');
    const response = await post(form.dataset.previewUrl, generated ? { with_schema: 'yes' } : {});
    if (!response.ok || seq !== previewSeq) return;
    if (generated) {
      const { html, schema } = await response.json();
      preview.innerHTML = html;
      generated.textContent = schema;
    } else {
      preview.innerHTML = await response.text();
    }
    wirePreview();
    preview.dataset.refreshed = String(seq);
  }

  let checkSeq = 0;
  async function checkJson() {
    const seq = ++checkSeq;
    const response = await post(form.dataset.checkUrl);
    if (!response.ok || seq !== checkSeq) return;
    const { problems } = await response.json();
    const summary = document.getElementById('raw-problems');
    const list = document.getElementById('raw-problem-list');
    list.replaceChildren(
      ...problems.map((problem) => {
        const item = document.createElement('li');
        const link = document.createElement('a');
        link.href = '#form-json';
        link.textContent = problem.message;
        if (problem.line) link.addEventListener('click', (event) => goToLine(event, problem));
        item.append(link);
        return item;
      }),
    );
    summary.hidden = problems.length === 0;
    const count = problems.length;
    document.getElementById('raw-status').textContent = count
      ? `${count} problem${count > 1 ? 's' : ''} found: see the list above.`
      : 'No problems found.';
    summary.dataset.checked = String(seq);
  }

  // A problem's link puts the cursor on its line and column in the JSON.
  function goToLine(event, problem) {
    event.preventDefault();
    const area = document.getElementById('form-json');
    const lines = area.value.split('\n');
    let offset = 0;
    for (let i = 0; i < problem.line - 1 && i < lines.length; i += 1) offset += lines[i].length + 1;
    offset += Math.max(0, (problem.column || 1) - 1);
    area.focus();
    area.setSelectionRange(offset, offset);
  }

  // The preview's own conditional reveals (the NHS.UK radios and the app's data-reveal).
  function wirePreview() {
    for (const input of preview.querySelectorAll('input[type="radio"], input[type="checkbox"]')) {
      input.addEventListener('change', () => {
        for (const other of preview.querySelectorAll(`input[name="${CSS.escape(input.name)}"]`)) {
          const target = other.getAttribute('aria-controls');
          const block = target && document.getElementById(target);
          if (block) {
            const kind = other.type === 'radio' ? 'radios' : 'checkboxes';
            block.classList.toggle(`nhsuk-${kind}__conditional--hidden`, !other.checked);
            other.setAttribute('aria-expanded', String(other.checked));
          }
        }
        revealBlocks();
      });
    }
    revealBlocks();
    todayButtons();
  }

  // Date inputs get the task screen's "Today" button (date-today.js adds it on the task
  // screen, at page load only, so the refreshed preview adds its own).
  function todayButtons() {
    for (const group of preview.querySelectorAll('[data-date-today]')) {
      if (group.querySelector('.app-date-today')) continue;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'nhsuk-button nhsuk-button--secondary nhsuk-button--small app-date-today';
      button.textContent = 'Today';
      button.addEventListener('click', () => {
        const now = new Date();
        const parts = { day: now.getDate(), month: now.getMonth() + 1, year: now.getFullYear() };
        for (const [part, value] of Object.entries(parts)) {
          const input = group.querySelector(`[id$="-${part}"]`);
          if (input) input.value = String(value);
        }
      });
      group.append(button);
    }
  }

  function revealBlocks() {
    for (const block of preview.querySelectorAll('[data-reveal-field]')) {
      const wanted = block.dataset.revealValues.split(' ');
      const inputs = preview.querySelectorAll(`[name="${CSS.escape(block.dataset.revealField)}"]`);
      const chosen = [...inputs].filter((i) => (i.type === 'radio' || i.type === 'checkbox') ? i.checked : true).map((i) => i.value);
      block.hidden = !chosen.some((value) => wanted.includes(value));
    }
  }

  // Each question shows the settings of its type of answer only.
  function showKindSettings(question) {
    const select = question.querySelector('[data-kind-select]');
    if (!select) return;
    for (const block of question.querySelectorAll('.app-kind')) {
      block.hidden = !block.dataset.kinds.split(' ').includes(select.value);
    }
  }

  // "The answer that shows it" only once there is a question it answers.
  function showRevealAnswer(question) {
    const select = question.querySelector('[data-reveal-select]');
    question.querySelector('[data-reveal-answer]').hidden = !select.value;
  }

  for (const question of form.querySelectorAll('[data-question]')) {
    showKindSettings(question);
    showRevealAnswer(question);
    question.querySelector('[data-kind-select]').addEventListener('change', () => showKindSettings(question));
    question.querySelector('[data-reveal-select]').addEventListener('change', () => showRevealAnswer(question));
  }

  const json = document.getElementById('form-json');
  const later = debounce(refreshPreview);
  const checkLater = debounce(checkJson);
  form.addEventListener('input', () => {
    later();
    if (json) checkLater();
  });
  form.addEventListener('change', later);
  wirePreview();

  // After a move or a removal the page comes back where the manager was working.
  const focus = form.dataset.focus && document.getElementById(form.dataset.focus);
  if (focus) {
    focus.scrollIntoView({ block: 'center' });
    focus.focus({ preventScroll: true });
  }
})();
