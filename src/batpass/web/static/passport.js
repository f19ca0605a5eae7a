// The passport page's footprint chart, drawn with the project's one chart library (Chart.js,
// served by the node from the compliance package's vendored copy). The table next to it holds
// the same values for screen readers and browsers without scripts; a stage "not provided" has
// no bar and says so in its label, never a zero.
(function () {
  "use strict";
  var table = document.getElementById("stage-table");
  var box = document.getElementById("stage-chart-box");
  var canvas = document.getElementById("stage-chart");
  if (!table || !box || !canvas || typeof window.Chart === "undefined") {
    return;
  }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
  var labels = rows.map(function (r) {
    return r.dataset.value === "" ? r.dataset.label + " (" + r.dataset.shown + ")" : r.dataset.label;
  });
  var values = rows.map(function (r) {
    return r.dataset.value === "" ? null : Number(r.dataset.value);
  });
  box.hidden = false;
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: labels,
      datasets: [{ label: table.dataset.unit, data: values, backgroundColor: "#0b4f8a" }],
    },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, title: { display: true, text: table.dataset.unit } },
        y: { ticks: { autoSkip: false } },
      },
    },
  });
  canvas.dataset.drawn = "true";
})();
