// The console's trace map: the vendored world-atlas outlines (Natural Earth 1:110m), decoded with
// the vendored topojson-client and drawn in an equirectangular projection; each country shaded by
// its share of the chosen element's mined origin (the figures of the list beside the map, which
// the server rendered from the same trace answer). Loads nothing from outside the node.
(function () {
  "use strict";
  var svg = document.getElementById("trace-map");
  var data = document.getElementById("trace-map-data");
  var choice = document.getElementById("map-element");
  if (!svg || !data || !choice || typeof topojson === "undefined") return;
  var shares = JSON.parse(data.textContent);
  var NS = "http://www.w3.org/2000/svg";
  var W = 960, H = 470, TOP = 84, BOTTOM = -60; // latitudes shown: Antarctica is left out

  function point(p) {
    var x = (p[0] + 180) / 360 * W;
    var y = (TOP - p[1]) / (TOP - BOTTOM) * H;
    return x.toFixed(1) + "," + y.toFixed(1);
  }
  function ring(r) { return "M" + r.map(point).join("L") + "Z"; }
  function pathOf(g) {
    if (!g) return "";
    if (g.type === "Polygon") return g.coordinates.map(ring).join("");
    if (g.type === "MultiPolygon") return g.coordinates.map(function (p) { return p.map(ring).join(""); }).join("");
    return "";
  }
  // blend from a light to the accent blue by share (0 < s <= 1)
  function colour(s) {
    var a = [158, 193, 227], b = [11, 79, 138], t = Math.sqrt(Math.max(0, Math.min(1, s)));
    return "rgb(" + a.map(function (v, i) { return Math.round(v + (b[i] - v) * t); }).join(",") + ")";
  }
  function shade() {
    var el = shares.elements[choice.value] || {};
    svg.querySelectorAll("path[data-id]").forEach(function (p) {
      var code = shares.codes[p.getAttribute("data-id")];
      var s = code ? el[code] : undefined;
      if (s > 0) {
        p.style.fill = colour(s);
        p.setAttribute("data-country", code);
        p.setAttribute("data-share", String(s));
      } else {
        p.style.fill = "";
        p.removeAttribute("data-share");
      }
    });
    svg.setAttribute("data-element", choice.value);
  }
  fetch(svg.getAttribute("data-atlas"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (world) {
      var countries = topojson.feature(world, world.objects.countries).features;
      countries.forEach(function (f) {
        var p = document.createElementNS(NS, "path");
        p.setAttribute("d", pathOf(f.geometry));
        p.setAttribute("data-id", f.id || "");
        var t = document.createElementNS(NS, "title");
        t.textContent = (f.properties && f.properties.name) || "";
        p.appendChild(t);
        svg.appendChild(p);
      });
      shade();
      svg.setAttribute("data-drawn", String(countries.length));
      choice.addEventListener("change", shade);
    });
})();
