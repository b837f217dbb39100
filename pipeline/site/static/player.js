// Seek the replay to a transcript paragraph or to a "#t=" moment, without a server; show one
// speaker's paragraphs only; mark the sentence being heard, and seek to a sentence clicked. Moments follow W3C Media Fragments: #t=90, #t=1:30, #t=00:01:30,
// #t=npt:90, and #t=50,60 (plays from 50 s and stops at 60 s). Every seek puts its moment in the
// address bar (a link to share) without moving the page; a moment typed on an open page seeks.
(function () {
  "use strict";
  var filter = document.getElementById("speaker-filter");
  if (filter) {
    filter.addEventListener("change", function () {
      document.querySelectorAll(".transcript li").forEach(function (item) {
        item.hidden = filter.value !== "" && item.dataset.speaker !== filter.value;
      });
    });
  }
  var player = document.getElementById("player");
  if (!player) { return; }
  var stopAt = null;

  function seconds(text) {
    if (!/^\d+(?::\d{1,2}){0,2}(?:\.\d+)?$/.test(text)) { return NaN; }
    return text.split(":").reduce(function (total, part) { return total * 60 + parseFloat(part); }, 0);
  }

  function parseMoment(text) {
    var parts = text.replace(/^npt:/, "").split(",");
    var start = parts[0] === "" ? 0 : seconds(parts[0]);
    var end = parts.length > 1 ? seconds(parts[1]) : NaN;
    return { start: start, end: end > start ? end : null };
  }

  function momentOfHash() {
    var match = /^#t=(.+)$/.exec(window.location.hash);
    return match ? parseMoment(decodeURIComponent(match[1])) : null;
  }

  function seek(moment, play) {
    if (!moment || isNaN(moment.start)) { return; }
    stopAt = moment.end;
    var go = function () { player.currentTime = moment.start; };
    if (player.readyState >= 1) { go(); } else { player.addEventListener("loadedmetadata", go, { once: true }); }
    if (play) {
      var playing = player.play();
      if (playing && playing.catch) { playing.catch(function () {}); }
    }
  }

  // the sentence being heard is marked (and kept in view while « Suivre la lecture » is on)
  var sentences = Array.prototype.slice.call(document.querySelectorAll(".transcript .sentence"));
  var starts = sentences.map(function (el) { return parseFloat(el.dataset.start); });
  var follow = document.getElementById("follow");
  var current = null;
  function mark(time) {
    var low = 0, high = starts.length - 1, found = -1;
    while (low <= high) {
      var mid = (low + high) >> 1;
      if (starts[mid] <= time + 0.05) { found = mid; low = mid + 1; } else { high = mid - 1; }
    }
    var next = found >= 0 ? sentences[found] : null;
    if (next === current) { return; }
    if (current) { current.classList.remove("current"); current.closest("li").classList.remove("current"); current.removeAttribute("aria-current"); }
    current = next;
    if (!current) { return; }
    current.classList.add("current");
    current.setAttribute("aria-current", "true");
    current.closest("li").classList.add("current");
    if (follow && follow.checked && !player.paused) { current.scrollIntoView({ block: "nearest" }); }
  }

  player.addEventListener("timeupdate", function () {
    if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
    mark(player.currentTime);
  });
  player.addEventListener("seeked", function () { mark(player.currentTime); });
  document.addEventListener("click", function (event) {
    var target = event.target.closest("button.seek, a[href^='#t='], .transcript .sentence");
    if (!target) { return; }
    event.preventDefault();
    var text = target.dataset.start !== undefined ? target.dataset.start : target.getAttribute("href").slice(3);
    var moment = parseMoment(text);
    if (isNaN(moment.start)) { return; }
    // keyboard focus stays on the control, and the page does not scroll back to the player
    history.replaceState(null, "", "#t=" + Math.floor(moment.start));
    seek(moment, true);
    if (target.classList.contains("share")) { copyLink(window.location.href); }
  });

  // « # » beside a paragraph: its link is copied (or shown, where the clipboard is refused)
  function copyLink(url) {
    var status = document.getElementById("share-status");
    var say = function (text) { if (status) { status.textContent = text; } };
    var shown = function () { say("Lien vers ce moment : " + url); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { say("Lien copié : " + url); }, shown);
    } else { shown(); }
  }
  window.addEventListener("hashchange", function () { seek(momentOfHash(), true); });
  seek(momentOfHash(), false);
})();
