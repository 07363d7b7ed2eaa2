// GOV.UK Frontend's components, started once the page has loaded (no inline script: the CSP
// allows scripts from this service only).
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()
