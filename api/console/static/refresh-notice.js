// A part of a page that htmx refreshes by itself (`hx-trigger="every Ns"`, with `data-refresh-notice` naming a
// notice element) says when a refresh failed: htmx leaves the part as it was on an error answer (the console's
// 503 Unavailable page while a server behind it is away) or when nothing answers, and without this the page
// went on saying "As of" a time long past as if it were current. The notice says since when it has not been
// refreshed and that it is still trying; the part is dimmed (class `stale`). The first refresh that comes
// through again hides the notice. The page is never reloaded: htmx keeps polling at its own pace.
(function () {
  "use strict";
  var lastGood = new Date();
  var failing = false;
  var clock = new Intl.DateTimeFormat("en-US", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"
  });

  function since(part) {
    // The time the part itself says it shows ("As of ..."), as local-time.js wrote it; else the last good refresh.
    var shown = part.querySelector("time[data-show='seconds']");
    return shown ? shown.textContent.trim() : clock.format(lastGood).replace(/^24:/, "00:");
  }

  function partOf(event) {
    var element = event.detail && event.detail.elt;
    return element && element.closest ? element.closest("[data-refresh-notice]") : null;
  }

  function every(part) {
    var found = /every\s+(\d+(?:\.\d+)?)s/.exec(part.getAttribute("hx-trigger") || "");
    return found ? found[1] + " s" : "few seconds";
  }

  function noticeOf(part) {
    return document.getElementById(part.getAttribute("data-refresh-notice"));
  }

  function failed(event, why) {
    var part = partOf(event);
    if (!part) return;
    var notice = noticeOf(part);
    part.classList.add("stale");
    if (!notice) return;
    var text =
      "Not refreshed since " + since(part) + ": " + why +
      "; still trying every " + every(part) + ". What is shown may be out of date.";
    if (!failing || notice.textContent !== text) notice.textContent = text;  // said once, not at each try
    notice.hidden = false;
    failing = true;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var why = status === 503
      ? "a server behind the console is not answering"
      : "the console answered " + status;
    failed(event, why);
  });
  document.addEventListener("htmx:sendError", function (event) {
    failed(event, "the console's server cannot be reached");
  });
  // A refresh that came through: its new content is settled in the page. (Listened to on settling rather than
  // on the request's end: a part swapped whole, outerHTML, is out of the document by then, and so are its events.)
  document.addEventListener("htmx:afterSettle", function (event) {
    var part = event.target && event.target.closest ? event.target.closest("[data-refresh-notice]") : null;
    if (!part) return;
    lastGood = new Date();
    failing = false;
    part.classList.remove("stale");
    var notice = noticeOf(part);
    if (notice) {
      notice.hidden = true;
      notice.textContent = "";
    }
  });
})();
