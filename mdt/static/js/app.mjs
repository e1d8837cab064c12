// Starts the NHS.UK frontend components (header menu, error summary focus, radios...).
import { initAll } from '/vendor/nhsuk/nhsuk-frontend.min.js';

initAll();
