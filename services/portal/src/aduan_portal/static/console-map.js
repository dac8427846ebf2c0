/* Console maps: where a report's problem is (the precise point, for the officers who may
   see it: SPEC Revision 2), and the queue's reports on one map. Progressive enhancement:
   the point is also written as coordinates and every report is in the table. Popups are
   built from DOM text nodes (titles are citizens' text, never parsed as HTML). Without
   tiles (none configured, or offline) the markers show on a blank background. */
(function () {
  "use strict";
  if (typeof L === "undefined") {
    return;
  }
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";

  function base(el, lat, lon, zoom) {
    var d = el.dataset;
    var map = L.map(el, { scrollWheelZoom: false, keyboard: true }).setView([lat, lon], zoom);
    if (d.tiles) {
      L.tileLayer(d.tiles, { attribution: d.attribution, maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  var one = document.getElementById("report-map");
  if (one) {
    var lat = parseFloat(one.dataset.lat);
    var lon = parseFloat(one.dataset.lon);
    var map = base(one, lat, lon, 17);
    L.marker([lat, lon], { title: one.dataset.label, alt: one.dataset.label }).addTo(map);
    one.setAttribute("data-ready", "1");
  }

  var many = document.getElementById("queue-map");
  if (many) {
    var points = JSON.parse(many.dataset.points || "[]");
    var qmap = base(
      many,
      parseFloat(many.dataset.lat),
      parseFloat(many.dataset.lon),
      parseInt(many.dataset.zoom, 10)
    );
    var bounds = [];
    points.forEach(function (p) {
      var box = document.createElement("div");
      var a = document.createElement("a");
      a.href = p.url;
      a.textContent = p.title;
      box.appendChild(a);
      var s = document.createElement("p");
      s.textContent = p.status;
      box.appendChild(s);
      L.marker([p.lat, p.lon], { title: p.title, alt: p.title }).bindPopup(box).addTo(qmap);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length > 1) {
      qmap.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    } else if (bounds.length === 1) {
      qmap.setView(bounds[0], 16);
    }
    many.setAttribute("data-ready", String(points.length));
  }
})();
