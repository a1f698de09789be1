// Switchboard's portal: small progressive enhancements. Every page works without this file.
"use strict";

// Copy buttons beside values meant to be pasted elsewhere (webhook URLs, one-time tokens).
function addCopyButtons(root) {
  root.querySelectorAll("code.copy").forEach(function (code) {
    if (!navigator.clipboard || code.dataset.copyReady) return;
    code.dataset.copyReady = "1";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + (code.id || "the value"));
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent.trim()).then(function () {
        button.textContent = "Copied";
      });
    });
    code.insertAdjacentElement("afterend", button);
  });
}

// A live count of the SMS segments a reply takes: GSM-7 (160 a segment, 153 when split) unless a
// character needs UCS-2 (70, or 67 when split). Characters of GSM-7's extension table count twice.
var GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
var GSM7_EXT = "^{}\\[~]|€\f";
function segments(text) {
  var units = 0, ucs2 = false;
  for (var ch of text) {
    if (GSM7.indexOf(ch) >= 0) units += 1;
    else if (GSM7_EXT.indexOf(ch) >= 0) units += 2;
    else { ucs2 = true; break; }
  }
  if (ucs2) {
    var n = 0;
    for (var c of text) n += c.codePointAt(0) > 0xffff ? 2 : 1;
    return { encoding: "UCS-2", chars: n, segments: n === 0 ? 0 : n <= 70 ? 1 : Math.ceil(n / 67) };
  }
  return { encoding: "GSM-7", chars: units, segments: units === 0 ? 0 : units <= 160 ? 1 : Math.ceil(units / 153) };
}
function addSegmentCounters(root) {
  root.querySelectorAll("textarea[data-segments]").forEach(function (area) {
    if (area.dataset.counterReady) return;
    area.dataset.counterReady = "1";
    var out = document.createElement("p");
    out.className = "help segment-count";
    out.id = area.id + "-segments";
    out.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", out);
    var described = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (described ? described + " " : "") + out.id);
    function update() {
      var s = segments(area.value);
      out.textContent = s.chars + " characters, " + s.segments + " segment" + (s.segments === 1 ? "" : "s") + " (" + s.encoding + ")";
    }
    area.addEventListener("input", update);
    update();
  });
}

// A quick reply chosen fills the reply box (where it can still be changed before it is sent).
function addTemplatePickers(root) {
  root.querySelectorAll("select[data-fills]").forEach(function (select) {
    if (select.dataset.pickerReady) return;
    select.dataset.pickerReady = "1";
    select.addEventListener("change", function () {
      var area = document.getElementById(select.dataset.fills);
      if (!area || !select.value) return;
      area.value = select.value;
      area.dispatchEvent(new Event("input"));
      area.focus();
    });
  });
}

function enhance(root) {
  addCopyButtons(root);
  addSegmentCounters(root);
  addTemplatePickers(root);
}
document.addEventListener("DOMContentLoaded", function () { enhance(document); });
document.addEventListener("htmx:afterSwap", function (e) { enhance(e.target); });

// Browser notifications of new texts while the page is not in view: asked for only when the person
// clicks the button, never on their behalf.
function notify(text) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible") return;
  new Notification("Switchboard", { body: text, tag: "switchboard-new-text" });
}
function notificationButton() {
  var button = document.getElementById("notify");
  if (!button || !("Notification" in window)) return;
  function show() {
    button.hidden = Notification.permission !== "default";
  }
  button.addEventListener("click", function () {
    Notification.requestPermission().then(show);
  });
  show();
}
document.addEventListener("DOMContentLoaded", notificationButton);

// The live inbox: a page's live regions (a conversation list, or a thread and who has it, each
// marked data-live) are read again whenever the stream says a text arrived or changed state or
// someone took or finished a conversation, and each time the stream (re)connects — so after a
// dropped connection or a server restart nothing is missed, and nothing is shown twice: the
// server's page is the truth, swapped in whole. New incoming texts are announced to screen
// readers. A page out of view reads itself without marking the texts read, and again (marking
// them) when it comes back into view.
function liveInbox() {
  if (!document.querySelector("[data-live]") || !window.EventSource || !window.fetch) return;
  var announce = document.getElementById("live-announce");
  var busy = false, again = false;
  function ids(root) {
    var out = {};
    root.querySelectorAll("[data-id]").forEach(function (el) { out[el.dataset.id] = el; });
    return out;
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var headers = document.hidden ? { "X-Switchboard-Unseen": "1" } : {};
    fetch(location.href, { credentials: "same-origin", headers: headers })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        var arrived = [];
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var fresh = page.querySelector('[data-live="' + region.dataset.live + '"]');
          if (!fresh) return;
          var known = ids(region);
          Object.keys(ids(fresh)).forEach(function (id) {
            var el = fresh.querySelector('[data-id="' + id + '"]');
            if (!known[id] && el.dataset.incoming) arrived.push(el.dataset.from);
          });
          region.replaceWith(fresh);
          enhance(fresh);
        });
        if (announce && arrived.length) {
          announce.textContent = arrived.length === 1 ? "New text from " + arrived[0] : arrived.length + " new texts";
          notify(announce.textContent);
        }
      })
      .catch(function () { /* the next event or reconnection reads it again */ })
      .finally(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  // EventSource retries a dropped stream by itself, but gives up on a refusal (a 429 while too
  // many streams are open, a 503 while the server stops): then a new one is opened, later each time.
  var stream = null, wait = 2000;
  function connect() {
    stream = new EventSource("/api/v1/events");
    stream.addEventListener("open", function () { wait = 2000; refresh(); });
    ["message.received", "message.status", "conversation.updated"].forEach(function (type) {
      stream.addEventListener(type, refresh);
    });
    stream.addEventListener("error", function () {
      if (stream.readyState !== EventSource.CLOSED) return;
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 30000);
    });
  }
  connect();
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  window.addEventListener("pagehide", function () { if (stream) stream.close(); });
}
document.addEventListener("DOMContentLoaded", liveInbox);
