// The status page's one script. Everything on the page works without it;
// it adds arrow-key moves between the days of a bar (one tab stop per
// component) and, where the page is served over HTTP, a refresh of the
// content in place every data-refresh seconds, without a full reload.
(function () {
  "use strict";

  // Roving focus: Tab reaches today's bar of each component, the arrow
  // keys, Home and End move between days.
  function rove(root) {
    root.querySelectorAll("ol.bars").forEach(function (ol) {
      var bars = Array.prototype.slice.call(ol.querySelectorAll("li.bar"));
      var visible = bars.filter(function (b) { return b.offsetParent !== null; });
      var last = visible.length ? visible[visible.length - 1] : bars[bars.length - 1];
      bars.forEach(function (b) { b.tabIndex = b === last ? 0 : -1; });
      ol.addEventListener("keydown", function (e) {
        var shown = bars.filter(function (b) { return b.offsetParent !== null; });
        var i = shown.indexOf(document.activeElement), j = -1;
        if (i < 0) return;
        if (e.key === "ArrowLeft") j = Math.max(0, i - 1);
        else if (e.key === "ArrowRight") j = Math.min(shown.length - 1, i + 1);
        else if (e.key === "Home") j = 0;
        else if (e.key === "End") j = shown.length - 1;
        if (j < 0) return;
        e.preventDefault();
        shown[i].tabIndex = -1;
        shown[j].tabIndex = 0;
        shown[j].focus();
      });
    });
  }

  // Refresh: fetch this page again (the server answers 304 while nothing
  // changed) and swap the parts that change, keeping open charts and the
  // focused day.
  function refresh() {
    if (location.protocol !== "http:" && location.protocol !== "https:") return;
    var seconds = parseInt(document.body.getAttribute("data-refresh"), 10);
    if (!(seconds > 0)) return;
    var last = null, busy = false;
    function swap(html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var main = document.getElementById("main"), next = doc.getElementById("main");
      if (!main || !next) return;
      var open = {};
      main.querySelectorAll("details[open]").forEach(function (d) {
        var c = d.closest(".component");
        if (c) open[c.id] = true;
      });
      var focus = null, a = document.activeElement;
      if (a && a.classList && a.classList.contains("bar") && main.contains(a)) {
        var comp = a.closest(".component");
        focus = { id: comp && comp.id, index: Array.prototype.indexOf.call(a.parentNode.children, a) };
      }
      main.replaceWith(next);
      next.querySelectorAll(".component").forEach(function (c) {
        var d = c.querySelector("details");
        if (d && open[c.id]) d.open = true;
      });
      rove(next);
      if (focus && focus.id) {
        var c = document.getElementById(focus.id);
        var bar = c && c.querySelectorAll("li.bar")[focus.index];
        if (bar) { bar.tabIndex = 0; bar.focus(); }
      }
      var upd = document.getElementById("updated"), nu = doc.getElementById("updated");
      if (upd && nu) upd.replaceWith(nu);
      var icon = document.querySelector("link[rel=icon]"), ni = doc.querySelector("link[rel=icon]");
      if (icon && ni) icon.href = ni.href;
      if (doc.title) document.title = doc.title;
    }
    // changed: whether a page fetched first differs from the one shown (its
    // build time differs).
    function changed(html) {
      var m = /id="updated" datetime="([^"]*)"/.exec(html), upd = document.getElementById("updated");
      return !m || !upd || m[1] !== upd.getAttribute("datetime");
    }
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(location.href, { cache: "no-cache", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html && html !== last) {
            if (last !== null || changed(html)) swap(html);
            last = html;
          }
        })
        .catch(function () { /* offline or server gone: try again later */ })
        .then(function () { busy = false; });
    }
    tick();
    setInterval(tick, seconds * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
  }

  rove(document);
  refresh();
})();
