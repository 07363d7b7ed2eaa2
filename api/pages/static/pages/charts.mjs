// Charts on the board's dashboard, drawn with Chart.js from the table beside each one: the
// table is the chart's accessible alternative and its only source of figures. A table marked
// data-chart gives its first column as the labels and each column named in data-series as a
// series of bars; cells that are not numbers (suppressed small counts) are left out.
/* global Chart */

const colours = ['#1d70b8', '#f47738', '#00703c', '#4c2c92', '#d4351c']

function number (cell) {
  const text = cell.textContent.trim().replace(/,/g, '')
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : null
}

for (const table of document.querySelectorAll('table[data-chart]')) {
  const canvas = document.getElementById(table.dataset.chart)
  if (!canvas || typeof Chart === 'undefined') continue
  const wanted = table.dataset.series.split(' ')
  const headers = [...table.querySelectorAll('thead th')]
  const rows = [...table.querySelectorAll('tbody tr')]
  const labels = rows.map((row) => row.cells[0].textContent.trim())
  const datasets = wanted.map((id, index) => {
    const column = headers.findIndex((th) => th.dataset.column === id)
    return {
      label: headers[column].textContent.trim(),
      data: rows.map((row) => number(row.cells[column])),
      backgroundColor: colours[index % colours.length]
    }
  })
  // eslint-disable-next-line no-new
  new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets },
    options: { animation: false, responsive: true, plugins: { legend: { position: 'bottom' } } }
  })
}
