// Draws the standards dashboard's monthly trend charts with Chart.js (from npm). Each
// canvas carries its months and series as data attributes (no inline script under our CSP).
// Lines differ by colour, dash and point shape so they stay apart when printed in grey.
(function () {
  'use strict';

  const COLOURS = ['#005eb8', '#7c2855', '#007f3b', '#ed8b00'];
  const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3]];
  const POINTS = ['circle', 'rect', 'triangle', 'rectRot'];

  function datasets(series) {
    const sets = [];
    series.forEach(function (s, i) {
      sets.push({
        label: s.label,
        data: s.data,
        borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: COLOURS[i % COLOURS.length],
        borderDash: DASHES[i % DASHES.length],
        pointStyle: POINTS[i % POINTS.length],
        pointRadius: 4,
        spanGaps: false,
        borderWidth: 2
      });
    });
    const targets = [];
    series.forEach(function (s) { if (targets.indexOf(s.target) < 0) { targets.push(s.target); } });
    targets.forEach(function (target) {
      sets.push({
        label: 'Target ' + target + '%',
        data: series[0].data.map(function () { return target; }),
        borderColor: '#425563',
        borderDash: [3, 3],
        borderWidth: 1,
        pointRadius: 0,
        pointStyle: 'line'
      });
    });
    return sets;
  }

  function draw(canvas) {
    const labels = JSON.parse(canvas.dataset.chartLabels);
    const series = JSON.parse(canvas.dataset.chartSeries);
    return new window.Chart(canvas, {
      type: 'line',
      data: { labels: labels, datasets: datasets(series) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          y: { min: 0, max: 100, ticks: { callback: function (v) { return v + '%'; } } }
        },
        plugins: {
          legend: { position: 'bottom', align: 'start', labels: { boxWidth: 8, boxHeight: 8, usePointStyle: true, color: '#212b32' } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ': ' + (ctx.parsed.y === null ? 'none counted' : ctx.parsed.y + '%');
              }
            }
          }
        }
      }
    });
  }

  function start() {
    if (!window.Chart) { return; }
    const charts = [];
    document.querySelectorAll('canvas[data-chart-series]').forEach(function (canvas) {
      charts.push(draw(canvas));
    });
    document.body.dataset.chartsDrawn = String(charts.length);
    // Redraw at the printed width, then back.
    window.addEventListener('beforeprint', function () { charts.forEach(function (c) { c.resize(); }); });
    window.addEventListener('afterprint', function () { charts.forEach(function (c) { c.resize(); }); });
    document.querySelectorAll('.app-print-button').forEach(function (button) {
      button.hidden = false;
      button.addEventListener('click', function () { window.print(); });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
