// GOV.UK Frontend's components, started once the page has loaded (no inline script: the CSP
// allows scripts from this service only).
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()

// A form that asks for it (data-errors-in-place) shows a refusal (400) with its errors in place,
// as the page would be without JavaScript; htmx leaves other error answers unswapped.
document.body.addEventListener('htmx:beforeSwap', (event) => {
  const asking = event.detail.requestConfig && event.detail.requestConfig.elt
  if (event.detail.xhr.status === 400 && asking && asking.closest('[data-errors-in-place]')) {
    event.detail.shouldSwap = true
    event.detail.isError = false
  }
})

// What htmx puts on the page: its components started (an error summary takes the focus), or
// the focus moved to the heading it marks, so keyboard and screen reader users are taken there.
document.body.addEventListener('htmx:afterSettle', (event) => {
  initAll({ scope: event.target })
  const heading = event.target.querySelector('[data-focus-after-swap]')
  if (heading && !event.target.querySelector('.govuk-error-summary')) heading.focus()
})
