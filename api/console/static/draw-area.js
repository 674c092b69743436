// A store's service area drawn by clicking on the map of its form: each click a corner, and "Use this area"
// writes the polygon into the form's GeoJSON box (one [longitude, latitude] a line, as the page shows a saved
// area). The map's SVG says its projection (data-projection: "lat lon px_per_degree_lat px_per_degree_lon
// origin_x origin_y") and the height of the map above its legend (data-map-height). Pasting GeoJSON into the
// box stays the way with a keyboard.
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";

  function button(text, secondary) {
    var made = document.createElement("button");
    made.type = "button";
    made.textContent = text;
    if (secondary) made.className = "secondary";
    return made;
  }

  function svgElement(name, attributes) {
    var made = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { made.setAttribute(key, attributes[key]); });
    return made;
  }

  function geojsonText(ring) {
    var positions = ring.map(function (p) { return "[" + p[0] + ", " + p[1] + "]"; });
    return '{"type": "Polygon", "coordinates": [[' + positions.join(",\n  ") + "]]}";
  }

  function setUp(section) {
    var svg = section.querySelector("svg[data-projection]");
    var box = document.getElementById(section.getAttribute("data-draw-for"));
    if (!svg || !box) return;
    var words = svg.getAttribute("data-projection").split(" ").map(Number);
    var lat0 = words[0], lon0 = words[1], perLat = words[2], perLon = words[3], originX = words[4], originY = words[5];
    var mapHeight = Number(svg.getAttribute("data-map-height"));
    var mapWidth = svg.viewBox.baseVal.width;
    var corners = [];
    var drawing = false;

    var shape = svg.appendChild(svgElement("polygon", {
      "class": "drawn-area", fill: "rgba(29, 95, 191, 0.18)", stroke: "#1d5fbf", "stroke-width": "2",
      "pointer-events": "none", "data-layer": "drawn-area"
    }));
    var dots = svg.appendChild(svgElement("g", { "pointer-events": "none", "data-layer": "drawn-corners" }));

    var controls = document.createElement("div");
    controls.className = "row draw-controls";
    var start = button("Draw the area on the map", true);
    var undo = button("Undo last corner", true);
    var use = button("Use this area", false);
    var cancel = button("Cancel drawing", true);
    [start, undo, use, cancel].forEach(function (b) { controls.appendChild(b); });
    var status = document.createElement("p");
    status.className = "draw-status";
    status.setAttribute("role", "status");
    svg.insertAdjacentElement("afterend", controls);
    controls.insertAdjacentElement("afterend", status);

    function position(x, y) {
      var lon = lon0 + (x - originX) / perLon;
      var lat = lat0 + (originY - y) / perLat;
      return [Number(lon.toFixed(6)), Number(lat.toFixed(6))];
    }

    function show() {
      shape.setAttribute("points", corners.map(function (c) { return c[0] + "," + c[1]; }).join(" "));
      while (dots.firstChild) dots.removeChild(dots.firstChild);
      corners.forEach(function (c) {
        dots.appendChild(svgElement("circle", { cx: c[0], cy: c[1], r: "4", fill: "#1d5fbf" }));
      });
      start.hidden = drawing;
      undo.hidden = use.hidden = cancel.hidden = !drawing;
      undo.disabled = corners.length === 0;
      use.disabled = corners.length < 3;
      svg.style.cursor = drawing ? "crosshair" : "";
      if (drawing) {
        var said = corners.length === 1 ? "1 corner" : corners.length + " corners";
        status.textContent = "Drawing: " + said + ". Click the map at the next corner" +
          (corners.length < 3 ? " (an area needs at least 3)." : ", or choose Use this area.");
      }
    }

    svg.addEventListener("click", function (event) {
      if (!drawing) return;
      var point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      var inside = point.matrixTransform(svg.getScreenCTM().inverse());
      if (inside.x < 0 || inside.y < 0 || inside.x > mapWidth || inside.y > mapHeight) return;  // the legend
      corners.push([Number(inside.x.toFixed(1)), Number(inside.y.toFixed(1))]);
      show();
    });
    start.addEventListener("click", function () {
      drawing = true;
      corners = [];
      show();
      undo.focus();
    });
    undo.addEventListener("click", function () { corners.pop(); show(); });
    cancel.addEventListener("click", function () {
      drawing = false;
      corners = [];
      status.textContent = "Drawing cancelled: the Service area box is as it was.";
      show();
      start.focus();
    });
    use.addEventListener("click", function () {
      var ring = corners.map(function (c) { return position(c[0], c[1]); });
      ring.push(ring[0]);
      box.value = geojsonText(ring);
      box.dispatchEvent(new Event("input", { bubbles: true }));
      drawing = false;
      show();
      status.textContent = "The area drawn (" + corners.length + " corners) is in the Service area box: " +
        "save the store to keep it.";
      box.focus();
    });
    show();
  }

  function setUpAll() {
    document.querySelectorAll("[data-draw-for]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpAll);
  else setUpAll();
})();
