/* The filing form's map: progressive enhancement. Without script the form is complete (area
   and address as text); with it, the citizen taps the map or uses their location, and the
   point goes into the hidden lat/lon fields. The area box suggests kelurahan and kecamatan
   from the portal's shipped area list (no outside geocoder); picking one centres the map.
   The submit button is disabled after the first click so a double click sends once (the
   server dedupes anyway, by the form's submission id). */
(function () {
  "use strict";
  var form = document.getElementById("file-form");
  if (!form) {
    return;
  }
  var submit = document.getElementById("file-submit");
  form.addEventListener("submit", function () {
    window.setTimeout(function () {
      submit.disabled = true;
    }, 0);
  });
  // A page restored from the back-forward cache must be sendable again.
  window.addEventListener("pageshow", function () {
    submit.disabled = false;
  });

  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var areaBox = document.getElementById("area");
  var options = document.getElementById("area-options");
  var areas = [];
  var map = null;
  var marker = null;

  function fetchAreas() {
    if (!options || !window.fetch) {
      return;
    }
    fetch("/api/areas.json", { headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.ok ? r.json() : [];
      })
      .then(function (list) {
        areas = list || [];
      })
      .catch(function () {
        areas = [];
      });
  }

  function fold(s) {
    return (s || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  if (areaBox && options) {
    // The area picked from the list goes with its Kemendagri code, so intake need not
    // read it from the words; typing anything else clears it.
    var areaCode = document.getElementById("area-code");
    areaBox.addEventListener("input", function () {
      if (areaCode) {
        areaCode.value = "";
        for (var j = 0; j < areas.length; j++) {
          if (areas[j].label === areaBox.value) {
            areaCode.value = areas[j].code || "";
            break;
          }
        }
      }
      var q = fold(areaBox.value).trim();
      while (options.firstChild) {
        options.removeChild(options.firstChild);
      }
      if (q.length < 2) {
        return;
      }
      var shown = 0;
      for (var i = 0; i < areas.length && shown < 12; i++) {
        if (fold(areas[i].label).indexOf(q) !== -1) {
          var o = document.createElement("option");
          o.value = areas[i].label;
          options.appendChild(o);
          shown++;
        }
      }
    });
    areaBox.addEventListener("change", function () {
      for (var i = 0; i < areas.length; i++) {
        if (areas[i].label === areaBox.value && areas[i].lat != null && map) {
          map.setView([areas[i].lat, areas[i].lon], 15);
          return;
        }
      }
    });
  }
  fetchAreas();

  // "Sudah dilaporkan?": open public reports of the chosen category around the point.
  var nearby = document.getElementById("nearby");
  var nearbyList = document.getElementById("nearby-list");
  var follows = document.getElementById("follows");
  var followStatus = document.getElementById("follow-status");
  var followCancel = document.getElementById("follow-cancel");
  var category = document.getElementById("category");

  function text(tag, value, cls) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (cls) {
      node.className = cls;
    }
    return node;
  }

  function follow(item) {
    follows.value = item.report_id;
    followStatus.textContent = nearby.dataset.following.replace("{title}", item.title);
    followStatus.hidden = false;
    followCancel.hidden = false;
  }

  function unfollow() {
    follows.value = "";
    followStatus.hidden = true;
    followCancel.hidden = true;
  }

  function lookNearby() {
    if (!nearby || !window.fetch || !category.value || !lat.value || !lon.value) {
      return;
    }
    var q = "?category=" + encodeURIComponent(category.value) + "&lat=" + lat.value +
      "&lon=" + lon.value + (nearby.dataset.lang === "en" ? "&lang=en" : "");
    fetch("/api/nearby" + q, { headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.ok ? r.json() : [];
      })
      .then(function (items) {
        while (nearbyList.firstChild) {
          nearbyList.removeChild(nearbyList.firstChild);
        }
        // Report titles are citizens' text: DOM text nodes only, never parsed as HTML.
        items.forEach(function (item) {
          var li = document.createElement("li");
          li.appendChild(text("strong", item.title));
          li.appendChild(text("span", item.status));
          li.appendChild(text("span", nearby.dataset.distance.replace("{m}", item.distance_m)));
          var a = text("a", nearby.dataset.open);
          a.href = item.url;
          a.target = "_blank";
          li.appendChild(a);
          var b = text("button", nearby.dataset.follow, "secondary");
          b.type = "button";
          b.setAttribute("data-report-id", item.report_id);
          b.addEventListener("click", function () {
            follow(item);
          });
          li.appendChild(b);
          nearbyList.appendChild(li);
        });
        nearby.hidden = items.length === 0;
        if (follows.value && !items.some(function (i) { return i.report_id === follows.value; })) {
          unfollow();
        }
      })
      .catch(function () {
        nearby.hidden = true;
      });
  }
  if (followCancel) {
    followCancel.addEventListener("click", unfollow);
  }
  if (category) {
    category.addEventListener("change", lookNearby);
  }

  var el = document.getElementById("file-map");
  if (!el || typeof L === "undefined") {
    return;
  }
  var d = el.dataset;
  var status = document.getElementById("point-status");
  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (node) {
    node.hidden = false;
  });
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
  map = L.map(el, { keyboard: true }).setView(
    [parseFloat(d.lat), parseFloat(d.lon)],
    parseInt(d.zoom, 10)
  );
  if (d.tiles) {
    L.tileLayer(d.tiles, { attribution: d.attribution, maxZoom: 19 }).addTo(map);
  }

  function place(la, lo, zoom) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    if (marker) {
      marker.setLatLng([la, lo]);
    } else {
      marker = L.marker([la, lo], { keyboard: false }).addTo(map);
    }
    if (zoom) {
      map.setView([la, lo], zoom);
    }
    status.textContent = d.pointSet + " " + lat.value + ", " + lon.value;
    lookNearby();
  }

  function clear() {
    lat.value = "";
    lon.value = "";
    if (marker) {
      map.removeLayer(marker);
      marker = null;
    }
    status.textContent = d.pointNone;
  }

  if (lat.value && lon.value) {
    place(parseFloat(lat.value), parseFloat(lon.value), 16);
  }
  map.on("click", function (e) {
    place(e.latlng.lat, e.latlng.lng, 0);
  });
  document.getElementById("clear-point").addEventListener("click", clear);
  var locate = document.getElementById("use-location");
  if (!navigator.geolocation) {
    locate.hidden = true;
  }
  locate.addEventListener("click", function () {
    status.textContent = d.locating;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, 17);
      },
      function () {
        status.textContent = d.locateFailed;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
