// grit's dashboard: live updates from the server's event stream, and actions sent with the
// page's CSRF token. No framework; the pages work without it, only less live.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  var dot = document.getElementById("live");
  var pending = false;

  // Fetches this page's main part again and swaps it in, keeping what the user is typing.
  function refresh() {
    if (pending) return;
    pending = true;
    fetch(location.href, { headers: { "X-Grit-Fragment": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        pending = false;
        if (html === null) return;
        var main = document.getElementById("main");
        var active = document.activeElement;
        if (active && active.tagName === "TEXTAREA" && active.value) return;
        var q = document.getElementById("q");
        var typed = q ? q.value : null;
        main.innerHTML = html;
        if (typed !== null && document.getElementById("q")) document.getElementById("q").value = typed;
        document.body.dataset.updated = String(Date.now());
      })
      .catch(function () { pending = false; });
  }

  if (window.EventSource) {
    var es = new EventSource("/events");
    es.addEventListener("open", function () { if (dot) dot.className = "on"; });
    es.addEventListener("error", function () { if (dot) dot.className = "off"; });
    es.addEventListener("change", refresh);
  }

  // Forms post with fetch and the token in a header; the page refreshes from the answer.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || (form.method || "").toLowerCase() !== "post") return;
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    }).then(function (r) {
      if (r.ok) {
        var t = form.querySelector("textarea");
        if (t) t.value = "";
        refresh();
        return;
      }
      return r.text().then(function (msg) {
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = msg;
        form.appendChild(p);
      });
    });
  });
})();
