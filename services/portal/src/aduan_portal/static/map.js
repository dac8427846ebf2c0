/* The public map: progressive enhancement over the report list (which is complete without
   it). Markers sit at the report's coarse grid point (~1 km), never a precise location.
   Tiles come from the configured server; when they cannot load, the markers still show on
   a blank background. Popups are built with DOM text nodes: report titles are citizens'
   text and are never parsed as HTML. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") {
    return;
  }
  var d = el.dataset;
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
  var map = L.map(el, { scrollWheelZoom: false, keyboard: true }).setView(
    [parseFloat(d.lat), parseFloat(d.lon)],
    parseInt(d.zoom, 10)
  );
  if (d.tiles) {
    L.tileLayer(d.tiles, { attribution: d.attribution, maxZoom: 18 }).addTo(map);
  }

  function popup(props) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = props.title;
    box.appendChild(title);
    var status = document.createElement("p");
    status.textContent = props.status_label + " · " + props.month_label;
    box.appendChild(status);
    var a = document.createElement("a");
    a.href = props.url;
    a.textContent = d.open;
    box.appendChild(a);
    return box;
  }

  if (d.pointLat) {
    // One report's page: its area as a ~1 km circle around the coarse grid point, never
    // a pin that would look precise.
    var centre = [parseFloat(d.pointLat), parseFloat(d.pointLon)];
    var area = L.circle(centre, { radius: 700, weight: 2 }).addTo(map);
    map.fitBounds(area.getBounds(), { padding: [12, 12] });
    el.setAttribute("data-markers", "1");
    return;
  }
  fetch(d.geojson, { headers: { Accept: "application/geo+json" } })
    .then(function (r) {
      if (!r.ok) {
        throw new Error("map data " + r.status);
      }
      return r.json();
    })
    .then(function (data) {
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          // A title makes each marker a named, focusable control (Tab, then Enter).
          return L.marker(latlng, { title: feature.properties.title, alt: feature.properties.title, keyboard: true });
        },
        onEachFeature: function (feature, marker) {
          marker.bindPopup(popup(feature.properties));
        }
      }).addTo(map);
      if (layer.getLayers().length > 0) {
        map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 15 });
      }
      el.setAttribute("data-markers", String(layer.getLayers().length));
    })
    .catch(function () {
      el.setAttribute("data-markers", "error");
    });
})();
