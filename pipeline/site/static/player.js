// The replay page, without a server: seek the replay to a paragraph, a sentence or a "#t="
// moment; mark the sentence being heard and keep it in view inside the transcript box, never
// by moving the page; stop following when the reader scrolls the box, until « Revenir au passage
// en cours »; compact controls that stay on screen (play, time, -15/+15 s, speed) and keyboard
// shortcuts that never fire inside a field; « # » copies a moment's link without playing,
// « Citer » a quotation ready to paste; a search inside the session. Moments follow W3C Media
// Fragments: #t=90, #t=1:30, #t=00:01:30, #t=npt:90, #t=50,60 (plays from 50 s, stops at 60 s);
// "&q=word" marks the word found by the site's search. A link's whole second lands on the
// sentence that starts in that second.
(function () {
  "use strict";
  var filter = document.getElementById("speaker-filter");
  var items = Array.prototype.slice.call(document.querySelectorAll(".transcript > li"));
  if (filter) {
    filter.addEventListener("change", function () {
      items.forEach(function (item) { item.hidden = filter.value !== "" && item.dataset.speaker !== filter.value; });
    });
  }
  var box = document.getElementById("transcript");
  var sentences = Array.prototype.slice.call(document.querySelectorAll(".transcript .sentence"));
  var starts = sentences.map(function (el) { return parseFloat(el.dataset.start); });

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : two(m)) + ":" + two(r);
  }

  // -- keeping a sentence in view: the transcript box scrolls, the page never does ----------
  var programmatic = 0;
  function scrollable() { return box && box.scrollHeight > box.clientHeight + 2; }
  function showInBox(el, always) {
    if (!scrollable() || !el) { return; }
    var top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    var visible = top >= box.scrollTop + box.clientHeight * 0.15 && top + el.offsetHeight <= box.scrollTop + box.clientHeight * 0.85;
    if (visible && !always) { return; }
    programmatic += 1;
    box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    window.setTimeout(function () { programmatic = Math.max(0, programmatic - 1); }, 200);
  }

  // -- marking words: the site's search term on arrival, and the search inside the session ---
  function unmark(scope) {
    Array.prototype.slice.call((scope || document).querySelectorAll("mark.found")).forEach(function (m) {
      m.replaceWith(document.createTextNode(m.textContent));
    });
    (scope || document).normalize();
  }
  function markWords(el, query) {
    var words = fold(query).split(/\s+/).filter(function (w) { return w.length > 1; });
    if (!words.length) { return 0; }
    var found = 0;
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) { nodes.push(walker.currentNode); }
    nodes.forEach(function (node) {
      var text = node.textContent, folded = fold(text), cuts = [];
      words.forEach(function (word) {
        var re = new RegExp("(^|[^\\p{L}\\p{N}])(" + word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + ")(?![\\p{L}\\p{N}])", "gu"), m;
        while ((m = re.exec(folded))) { cuts.push([m.index + m[1].length, m.index + m[1].length + m[2].length]); }
      });
      if (!cuts.length) { return; }
      cuts.sort(function (a, b) { return a[0] - b[0]; });
      var fragment = document.createDocumentFragment(), at = 0;
      cuts.forEach(function (cut) {
        if (cut[0] < at) { return; }
        fragment.appendChild(document.createTextNode(text.slice(at, cut[0])));
        var mark = document.createElement("mark");
        mark.className = "found";
        mark.textContent = text.slice(cut[0], cut[1]);
        fragment.appendChild(mark);
        at = cut[1];
        found += 1;
      });
      fragment.appendChild(document.createTextNode(text.slice(at)));
      node.replaceWith(fragment);
    });
    return found;
  }

  // -- search inside this session -------------------------------------------------------------
  var find = document.getElementById("find");
  if (find) {
    var hits = [], at = -1, timer = null;
    var count = document.getElementById("find-count");
    var go = function (step) {
      if (!hits.length) { return; }
      if (at >= 0) { hits[at].classList.remove("here"); }
      at = (at + step + hits.length) % hits.length;
      hits[at].classList.add("here");
      count.textContent = (at + 1) + " / " + hits.length;
      var li = hits[at].closest("li");
      if (li && li.hidden && filter) { filter.value = ""; filter.dispatchEvent(new Event("change")); }
      showInBox(hits[at], true);
      if (!scrollable()) { hits[at].scrollIntoView({ block: "center" }); }
    };
    var search = function () {
      unmark(box);
      hits = [];
      at = -1;
      if (fold(find.value).trim().length > 1) {
        markWords(box, find.value);
        hits = Array.prototype.slice.call(box.querySelectorAll("mark.found"));
      }
      count.textContent = find.value.trim() ? (hits.length ? "0 / " + hits.length : "aucune occurrence") : "";
      if (hits.length) { go(1); }
    };
    find.form.addEventListener("submit", function (event) { event.preventDefault(); go(1); });
    find.addEventListener("input", function () { window.clearTimeout(timer); timer = window.setTimeout(search, 200); });
    find.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.shiftKey) { event.preventDefault(); go(-1); }
    });
    document.getElementById("find-next").addEventListener("click", function () { go(1); });
    document.getElementById("find-previous").addEventListener("click", function () { go(-1); });
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

  function fragmentOf(hash) {
    var found = { moment: null, query: "" };
    hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var cut = pair.indexOf("="), key = pair.slice(0, cut), value = decodeURIComponent(pair.slice(cut + 1).replace(/\+/g, " "));
      if (key === "t") { found.moment = parseMoment(value); }
      if (key === "q") { found.query = value; }
    });
    return found;
  }

  // The sentence a whole-second link means: the one that starts in that second, else the one
  // being heard then.
  function landing(time) {
    var low = 0, high = starts.length - 1, found = -1;
    while (low <= high) {
      var mid = (low + high) >> 1;
      if (starts[mid] < time - 0.001) { low = mid + 1; } else { found = mid; high = mid - 1; }
    }
    return found >= 0 && starts[found] < Math.floor(time) + 1 ? starts[found] : time;
  }

  function seek(moment, play) {
    if (!moment || isNaN(moment.start)) { return; }
    stopAt = moment.end;
    var start = landing(moment.start);
    var goTo = function () { player.currentTime = start; mark(start); };
    if (player.readyState >= 1) { goTo(); } else { mark(start); player.addEventListener("loadedmetadata", goTo, { once: true }); }
    if (play) {
      var playing = player.play();
      if (playing && playing.catch) { playing.catch(function () {}); }
    }
  }

  // -- the sentence being heard ----------------------------------------------------------------
  var follow = document.getElementById("follow");
  var back = document.getElementById("back-to-current");
  var readerScrolled = false;
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
    if (follow && follow.checked && !readerScrolled) { showInBox(current, false); }
  }

  // the reader scrolls the box: following stops until asked back
  var readerMoves = function () {
    if (programmatic || !follow || !follow.checked) { return; }
    readerScrolled = true;
    if (back) { back.hidden = false; }
  };
  if (box) {
    ["wheel", "touchmove"].forEach(function (kind) { box.addEventListener(kind, readerMoves, { passive: true }); });
    box.addEventListener("keydown", function (event) {
      if (["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " "].indexOf(event.key) >= 0) { readerMoves(); }
    });
    box.addEventListener("scroll", function () { if (!programmatic && document.activeElement === box) { readerMoves(); } });
  }
  if (back) {
    back.addEventListener("click", function () {
      readerScrolled = false;
      back.hidden = true;
      showInBox(current, true);
    });
  }

  player.addEventListener("timeupdate", function () {
    if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
    mark(player.currentTime);
    miniTime();
  });
  player.addEventListener("seeked", function () { mark(player.currentTime); miniTime(); });

  // -- compact controls, sticky on a phone ------------------------------------------------------
  var play = document.getElementById("mini-play"), time = document.getElementById("mini-time"), rate = document.getElementById("mini-rate");
  function miniTime() { if (time) { time.textContent = clock(player.currentTime) + (isFinite(player.duration) ? " / " + clock(player.duration) : ""); } }
  function miniPlay() {
    if (!play) { return; }
    play.textContent = player.paused ? "▶" : "❚❚";
    play.setAttribute("aria-label", player.paused ? "Lire" : "Mettre en pause");
  }
  function toggle() {
    if (player.paused) { var p = player.play(); if (p && p.catch) { p.catch(function () {}); } } else { player.pause(); }
  }
  function nudge(delta) { player.currentTime = Math.max(0, Math.min((player.duration || Infinity), player.currentTime + delta)); }
  if (play) {
    play.addEventListener("click", toggle);
    document.getElementById("mini-back").addEventListener("click", function () { nudge(-15); });
    document.getElementById("mini-forward").addEventListener("click", function () { nudge(15); });
    rate.addEventListener("change", function () { player.playbackRate = parseFloat(rate.value); });
    ["play", "pause"].forEach(function (kind) { player.addEventListener(kind, miniPlay); });
    player.addEventListener("loadedmetadata", miniTime);
    player.addEventListener("ratechange", function () { rate.value = String(player.playbackRate); });
  }
  // shortcuts: k play/pause, j and l -15/+15 s, < and > slower/faster; never inside a field
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey || (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(el.tagName)))) { return; }
    var rates = [0.75, 1, 1.25, 1.5, 2], index = rates.indexOf(player.playbackRate);
    if (event.key === "k") { toggle(); } else if (event.key === "j") { nudge(-15); } else if (event.key === "l") { nudge(15); }
    else if (event.key === ">" && index < rates.length - 1) { player.playbackRate = rates[index + 1]; }
    else if (event.key === "<" && index > 0) { player.playbackRate = rates[index - 1]; }
    else { return; }
    event.preventDefault();
  });

  // -- seeking from the page --------------------------------------------------------------------
  var pending = null;
  document.addEventListener("click", function (event) {
    var share = event.target.closest("a.share, button.cite");
    if (share) { event.preventDefault(); copyFrom(share); return; }
    var target = event.target.closest("button.seek, a[href^='#t='], .transcript .sentence");
    if (!target) { return; }
    var selected = window.getSelection && String(window.getSelection()).trim();
    if (target.classList.contains("sentence") && (selected || event.detail > 1)) {
      window.clearTimeout(pending);  // selecting text (a double or triple click) never seeks
      return;
    }
    event.preventDefault();
    var text = target.dataset.start !== undefined ? target.dataset.start : target.getAttribute("href").slice(3);
    var moment = parseMoment(text);
    if (isNaN(moment.start)) { return; }
    var act = function () {
      // keyboard focus stays on the control, and the page does not scroll back to the player
      history.replaceState(null, "", "#t=" + Math.floor(moment.start));
      seek(moment, true);
    };
    window.clearTimeout(pending);
    if (target.classList.contains("sentence")) { pending = window.setTimeout(act, 250); } else { act(); }
  });

  // « # » copies the moment's link, « Citer » the quotation; the confirmation shows beside it
  function copyFrom(control) {
    var li = control.closest("li");
    var base = window.location.href.split("#")[0];
    var link = base + "#t=" + Math.floor(parseFloat(li.dataset.start));
    var text = link;
    if (control.classList.contains("cite")) {
      var title = document.getElementById("session-title");
      var who = li.dataset.speaker || (function () {
        for (var k = items.indexOf(li); k >= 0; k -= 1) { if (items[k].dataset.speaker) { return items[k].dataset.speaker; } }
        return "";
      })();
      var said = li.querySelector(".text").textContent.replace(/\s+/g, " ").trim();
      var where = [title.dataset.number ? "séance " + title.dataset.number : "", title.textContent.trim(), title.dataset.date].filter(Boolean).join(", ");
      text = "« " + said + " » — " + (who ? who + ", " : "") + where + ", " + link;
    }
    var confirm = li.querySelector(".confirm"), status = document.getElementById("share-status");
    var say = function (message) { if (confirm) { confirm.textContent = message; window.setTimeout(function () { confirm.textContent = ""; }, 4000); } };
    var shown = function () { if (status) { status.textContent = text; } say("à copier ci-dessus"); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { say(control.classList.contains("cite") ? "Citation copiée" : "Lien copié"); if (status) { status.textContent = ""; } }, shown);
    } else { shown(); }
  }

  // -- arriving on a moment: the sentence marked and in view, the word found marked -------------
  function arrive(play) {
    var fragment = fragmentOf(window.location.hash);
    if (!fragment.moment) { return; }
    seek(fragment.moment, play);
    if (!current) { return; }
    var li = current.closest("li");
    if (fragment.query) { unmark(li); markWords(li, fragment.query); }
    showInBox(current, true);
    var box_ = li.getBoundingClientRect();
    if (box_.top < 0 || box_.bottom > window.innerHeight) { li.scrollIntoView({ block: "center" }); }
  }
  window.addEventListener("hashchange", function () { arrive(true); });
  arrive(false);
  miniPlay();
})();
