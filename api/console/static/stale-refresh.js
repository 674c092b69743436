// A part of a page that refreshes itself (htmx polling: the live store view, the simulation runs) and whose
// refresh fails keeps what it showed, which then passes for live: it is greyed (.stale) and a message before it
// says since when it is not refreshed and why, once per outage (role=alert), until a refresh comes through again.
// A badge that says the part is live (data-live-of="<its id>", the live view's heading) says otherwise meanwhile
// (its data-stale-text, "not live") and loses its class "live" (green), both given back by the next refresh.
(function () {
  "use strict";

  function polled(elt) {
    return elt && elt.id && /\bevery\b/.test(elt.getAttribute("hx-trigger") || "");
  }

  function lastShown(elt) {
    var time = elt.querySelector("time[data-show='seconds']");
    if (time && time.textContent.trim()) return time.textContent.trim();
    var at = elt.dataset.refreshedAt ? new Date(Number(elt.dataset.refreshedAt)) : new Date();
    return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function why(status) {
    if (!status) return "the console cannot be reached (no connection)";
    if (status === 503 || status === 502 || status === 504) return "the server is not answering (" + status + ")";
    return "the server refused the refresh (" + status + ")";
  }

  function badges(elt) {
    return document.querySelectorAll("[data-live-of='" + elt.id + "']");
  }

  function notLive(elt) {
    badges(elt).forEach(function (badge) {
      if (badge.dataset.liveText === undefined) badge.dataset.liveText = badge.textContent;
      badge.textContent = badge.dataset.staleText || "not live";
      badge.classList.remove("live");
      badge.classList.add("not-live");
    });
  }

  function liveAgain(elt) {
    badges(elt).forEach(function (badge) {
      if (badge.dataset.liveText === undefined) return;
      badge.textContent = badge.dataset.liveText;
      delete badge.dataset.liveText;
      badge.classList.remove("not-live");
      badge.classList.add("live");
    });
  }

  function failed(elt, status) {
    var id = elt.id + "-stale";
    var note = document.getElementById(id);
    var text = "Not refreshed since " + lastShown(elt) + ": " + why(status) + ". Trying again every few seconds; " +
      "what is shown below may be out of date.";
    if (!note) {
      note = document.createElement("p");
      note.id = id;
      note.className = "problem stale-note";
      note.setAttribute("role", "alert");
      elt.parentNode.insertBefore(note, elt);
    }
    if (note.dataset.reason !== String(status)) {  // said again only when the reason changes
      note.dataset.reason = String(status);
      note.textContent = text;
    }
    elt.classList.add("stale");
    notLive(elt);
  }

  function refreshed(elt) {
    var note = document.getElementById(elt.id + "-stale");
    if (note) note.remove();
    var now = document.getElementById(elt.id);  // an outerHTML swap put another element in its place
    if (now) {
      now.classList.remove("stale");
      now.dataset.refreshedAt = String(Date.now());
    }
    liveAgain(elt);
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!polled(elt)) return;
    var xhr = event.detail.xhr;
    if (event.detail.successful) refreshed(elt);
    else failed(elt, xhr ? xhr.status : 0);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (polled(event.detail.elt)) failed(event.detail.elt, 0);
  });
})();
