// Every instant a console page shows is written in UTC by the server (the text a browser without scripts
// keeps) inside <time datetime="ISO">; this rewrites it in the viewer's own time zone with the zone's
// abbreviation, on load and again after each htmx swap (the live view is refreshed every few seconds).
//   data-show="seconds"  only the time, with seconds ("18:29:05 EST")
//   data-after="ISO"     the end of a window that starts at ISO: only the time when on the same local day
//   data-zone="none"     no zone abbreviation (the start of a window: its end carries the zone)
//   data-precision="seconds"  the seconds too, after the minutes (an instant that has them)
(function () {
  "use strict";

  var formatter = new Intl.DateTimeFormat("en-US", {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZoneName: "short"
  });

  function parts(instant) {
    var found = {};
    formatter.formatToParts(instant).forEach(function (part) { found[part.type] = part.value; });
    found.hour = found.hour === "24" ? "00" : found.hour;
    found.date = found.year + "-" + found.month + "-" + found.day;
    return found;
  }

  function localise(element) {
    var instant = new Date(element.getAttribute("datetime"));
    if (isNaN(instant.getTime())) return;
    var here = parts(instant);
    var shown;
    if (element.dataset.show === "seconds") {
      shown = here.hour + ":" + here.minute + ":" + here.second;
    } else {
      shown = here.hour + ":" + here.minute;
      if (element.dataset.precision === "seconds") shown += ":" + here.second;
      var start = element.dataset.after ? new Date(element.dataset.after) : null;
      if (!start || isNaN(start.getTime()) || parts(start).date !== here.date) shown = here.date + " " + shown;
    }
    if (element.dataset.zone !== "none") shown += " " + here.timeZoneName;
    if (!element.title) element.title = element.textContent.trim();  // the UTC text, on hover
    element.textContent = shown;
  }

  function localiseAll(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(localise);
  }

  localiseAll(document);
  document.addEventListener("htmx:afterSettle", function () { localiseAll(document); });
})();
