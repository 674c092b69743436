// A wide table scrolls sideways in its own box (.table-scroll) rather than widening the page. Where it does (a
// phone), the box becomes a named tab stop, so that the keyboard alone can scroll it with the arrow keys (a
// column without a link in it was out of its reach), and it carries `more-right` while columns lie beyond its
// right edge, which the stylesheet fades, so that a cut-off table does not pass for a whole one. A box that
// fits is left as the page drew it. Checked as each box changes size and after each htmx swap (the live view).
(function () {
  "use strict";

  var MARKED = "wideTable";

  function headingBefore(box) {
    for (var node = box; node && node !== document.body; node = node.parentElement) {
      for (var prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
        if (/^H[1-6]$/.test(prev.tagName)) return prev;
        var inside = prev.querySelectorAll("h1, h2, h3");
        if (inside.length) return inside[inside.length - 1];
      }
    }
    return null;
  }

  function nameOf(box) {
    var caption = box.querySelector("caption");
    var named = caption && caption.textContent.trim() ? caption : headingBefore(box);
    var words = named ? named.textContent.replace(/\s+/g, " ").trim() : "Table";
    return words + ", scrolls sideways";
  }

  function mark(box) {
    var wide = box.scrollWidth > box.clientWidth + 1;
    if (wide && !box.dataset[MARKED]) {
      box.dataset[MARKED] = "yes";
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", nameOf(box));
    } else if (!wide && box.dataset[MARKED]) {
      delete box.dataset[MARKED];
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
    box.classList.toggle("more-right", wide && box.scrollLeft + box.clientWidth < box.scrollWidth - 1);
  }

  var watcher = window.ResizeObserver
    ? new ResizeObserver(function (entries) { entries.forEach(function (entry) { mark(entry.target); }); })
    : null;

  function markAll(root) {
    (root || document).querySelectorAll(".table-scroll").forEach(function (box) {
      mark(box);
      if (watcher) watcher.observe(box);
    });
  }

  document.addEventListener("scroll", function (event) {
    var box = event.target;
    if (box.classList && box.classList.contains("table-scroll")) mark(box);
  }, true);
  window.addEventListener("resize", function () { markAll(); });
  document.addEventListener("htmx:afterSwap", function (event) { markAll(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { markAll(); });
  } else {
    markAll();
  }
})();
