// Starts the NHS.UK frontend components (header menu, error summary focus, radios...).
import { initAll } from '/vendor/nhsuk/nhsuk-frontend.min.js';

initAll();

// Questions asked only after some answers (several, or of a non-radio question): hidden until
// one of those answers is chosen. Without JavaScript they stay visible; the server keeps only
// the answers to questions that were asked, and says which it did not keep.
function reveal() {
  for (const block of document.querySelectorAll('[data-reveal-field]')) {
    const name = block.dataset.revealField;
    const wanted = block.dataset.revealValues.split(' ');
    const inputs = document.querySelectorAll(`[name="${CSS.escape(name)}"]`);
    const update = () => {
      const chosen = [...inputs].filter((i) => (i.type === 'radio' || i.type === 'checkbox') ? i.checked : true).map((i) => i.value);
      block.hidden = !chosen.some((value) => wanted.includes(value));
    };
    inputs.forEach((input) => input.addEventListener('change', update));
    update();
  }
}

reveal();
