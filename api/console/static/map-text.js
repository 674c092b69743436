// The words drawn inside a map (a store's name, the scale bar's length, the streets' credit) are sized for the
// map's own 520 px; a phone shows the map about 300 px wide and the live view's column 418 px, which drew them at
// 6 to 9 px. Each is enlarged, in the map's units, to read at least SMALLEST_PX on screen, and given back its
// size as the map widens again; a map shown at its full size is left as it was drawn. Checked as each map changes
// size and after each htmx swap (the live view redraws its map every few seconds).
// A store's name, so enlarged, lay across most of a phone's map or ran off its edge: it is shortened on screen
// (an ellipsis) to at most NAME_SHARE of the map's width and to the room between its place and the map's edge on
// the side it reads to; whole in its star's title and in the page's heading.
(function () {
  "use strict";

  var SMALLEST_PX = 12;
  var NAME_SHARE = 0.6;
  var EDGE = 4;

  function room(text, box) {
    var x = parseFloat(text.getAttribute("x")) - box.x;
    var anchor = text.getAttribute("text-anchor") || "start";
    var toEdge = anchor === "end" ? x - EDGE
      : anchor === "start" ? box.width - x - EDGE
      : 2 * (Math.min(x, box.width - x) - EDGE);
    return Math.min(NAME_SHARE * box.width, toEdge);
  }

  function shorten(text, box) {
    if (text.dataset.words === undefined) text.dataset.words = text.textContent;
    var words = text.dataset.words;
    text.textContent = words;
    var fits = room(text, box);
    if (text.getComputedTextLength() <= fits) return;
    for (var kept = words.length - 1; kept > 0; kept--) {
      text.textContent = words.slice(0, kept).trimEnd() + "\u2026";
      if (text.getComputedTextLength() <= fits) return;
    }
  }

  function fit(svg) {
    var box = svg.viewBox && svg.viewBox.baseVal;
    var shown = svg.getBoundingClientRect().width;
    if (!box || !box.width || !shown) return;
    var scale = shown / box.width;
    svg.querySelectorAll("text").forEach(function (text) {
      if (text.dataset.drawnSize === undefined) text.dataset.drawnSize = text.getAttribute("font-size") || "";
      var drawn = parseFloat(text.dataset.drawnSize) || parseFloat(getComputedStyle(text).fontSize);
      var needed = SMALLEST_PX / scale;
      if (needed > drawn) text.setAttribute("font-size", needed.toFixed(2));
      else if (text.dataset.drawnSize) text.setAttribute("font-size", text.dataset.drawnSize);
      if (text.closest("g[data-layer=stores]")) shorten(text, box);
    });
  }

  var watcher = window.ResizeObserver
    ? new ResizeObserver(function (entries) { entries.forEach(function (entry) { fit(entry.target); }); })
    : null;

  function fitAll(root) {
    (root || document).querySelectorAll(".map svg[viewBox]").forEach(function (svg) {
      if (svg.closest(".map-legend")) return;
      fit(svg);
      if (watcher) watcher.observe(svg);
    });
  }

  window.addEventListener("resize", function () { fitAll(); });
  document.addEventListener("htmx:afterSwap", function (event) { fitAll(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { fitAll(); });
  } else {
    fitAll();
  }
})();
