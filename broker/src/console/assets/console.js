// Live parts of a console page: every element with data-src is re-fetched
// from the server whenever /events says the cluster view changed.
(function () {
  "use strict";
  var busy = false, again = false;
  var dot = document.getElementById("live");
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    window.consoleRefreshes = (window.consoleRefreshes || 0) + 1; // tests and curious operators read it
    var parts = Array.prototype.slice.call(document.querySelectorAll("[data-src]"));
    Promise.all(parts.map(function (el) {
      return fetch(el.getAttribute("data-src"), { cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } })
        .catch(function () { /* the next event tries again */ });
    })).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  // One event stream per page, closed when the page is left: a browser
  // keeps only a few connections per server, and a left page kept in its
  // back/forward cache would otherwise hold one open for good.
  var es = null;
  function open() {
    if (es || !document.querySelector("[data-src]") || !window.EventSource) { return; }
    es = new EventSource("/events");
    es.addEventListener("update", function () {
      if (dot) { dot.className = "on"; }
      refresh();
    });
    es.onerror = function () { if (dot) { dot.className = "off"; } };
  }
  window.addEventListener("pagehide", function () {
    if (es) { es.close(); es = null; }
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { open(); refresh(); }
  });
  open();
})();
