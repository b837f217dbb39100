// In-browser search over syntheses, transcripts, keywords and speakers (no server). Whole
// words, without accents or case (« ecole » finds « école », « mer » does not find « merci »);
// results ranked by how often the words occur, grouped by session, a snippet around the first
// match with the words marked; 50 at a time; the query is kept in the address (?q=), so Back
// and a shared link give the same results.
// The index comes in parts (search/manifest.js, then t-<prefix>.js for the query's words and
// d-<n>.js for the text of the results shown), loaded as scripts so that it works from file://.
(function () {
  "use strict";
  var folder = document.currentScript.src.replace(/[^/]*$/, "") + "search/";
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  var status = document.getElementById("search-status");
  var more = document.getElementById("more");
  var PAGE = 50;
  var loaded = {}, waiting = {};
  var generation = 0;

  window.SEARCH_LOADED = function (name, data) {
    loaded[name] = data;
    (waiting[name] || []).forEach(function (done) { done(data); });
    delete waiting[name];
  };

  function load(name) {
    return new Promise(function (resolve) {
      if (Object.prototype.hasOwnProperty.call(loaded, name)) { resolve(loaded[name]); return; }
      if (waiting[name]) { waiting[name].push(resolve); return; }
      waiting[name] = [resolve];
      var script = document.createElement("script");
      script.src = folder + name + ".js";
      script.onerror = function () { window.SEARCH_LOADED(name, null); };
      document.head.appendChild(script);
    });
  }

  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  function wordPattern(terms) {
    return new RegExp("(^|[^a-z0-9])(" + terms.map(escapeRegExp).join("|") + ")(?=$|[^a-z0-9])", "g");
  }

  function postings(value) {
    // "3,a*2,1": entry numbers as base-36 differences, "*n" when the word occurs n times
    var found = new Map(), entry = 0;
    (value || "").split(",").forEach(function (item) {
      if (!item) { return; }
      var parts = item.split("*");
      entry += parseInt(parts[0], 36);
      found.set(entry, parts.length > 1 ? parseInt(parts[1], 36) : 1);
    });
    return found;
  }

  function snippet(text, pattern) {
    // folding keeps one character per character here (accents removed after NFD), so
    // positions in the folded text are positions in the original
    var low = fold(text);
    var plain = text.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
    if (plain.length !== text.length) { text = plain; }
    var marks = [], match;
    pattern.lastIndex = 0;
    while ((match = pattern.exec(low)) !== null) {
      var start = match.index + match[1].length;
      marks.push([start, start + match[2].length]);
      if (match[0].length === 0) { pattern.lastIndex++; }
    }
    var from = marks.length ? Math.max(0, marks[0][0] - 80) : 0;
    var to = Math.min(text.length, from + 220);
    // cut at word boundaries, never inside a word
    if (from > 0) { var space = text.indexOf(" ", from); from = space >= 0 && (!marks.length || space < marks[0][0]) ? space + 1 : from; }
    if (to < text.length) { var last = text.lastIndexOf(" ", to); to = last > from ? last : to; }
    var paragraph = document.createElement("p");
    var cursor = from;
    if (from > 0) { paragraph.appendChild(document.createTextNode("… ")); }
    marks.forEach(function (m) {
      if (m[0] < cursor || m[1] > to) { return; }
      paragraph.appendChild(document.createTextNode(text.slice(cursor, m[0])));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(m[0], m[1]);
      paragraph.appendChild(mark);
      cursor = m[1];
    });
    paragraph.appendChild(document.createTextNode(text.slice(cursor, to) + (to < text.length ? " …" : "")));
    return paragraph;
  }

  function Search(manifest, hits, pattern, token, words) {
    this.shown = 0;
    this.next = Promise.resolve();
    this.last = null;
    this.list = null;
    this.page = function () {
      var self = this, chunk = manifest.chunk;
      var slice = hits.slice(this.shown, this.shown + PAGE);
      this.shown = Math.min(hits.length, this.shown + PAGE);
      status.textContent = hits.length ? hits.length + " résultat(s)" + (this.shown < hits.length ? ", " + this.shown + " affichés" : "") : "Aucun résultat.";
      more.hidden = this.shown >= hits.length;
      // every text file of the page is asked for at once; results appear in order as they come
      slice.forEach(function (hit) { load("d-" + Math.floor(hit.entry / chunk)); });
      slice.forEach(function (hit) {
        self.next = self.next.then(function () { return load("d-" + Math.floor(hit.entry / chunk)); }).then(function (texts) {
          if (token !== generation || !texts) { return; }
          var entry = texts[hit.entry % chunk], session = manifest.sessions[entry[0]];
          if (entry[0] !== self.last) {
            var group = document.createElement("li");
            var heading = document.createElement("h2");
            heading.textContent = session[0];
            self.list = document.createElement("ol");
            group.appendChild(heading);
            group.appendChild(self.list);
            results.appendChild(group);
            self.last = entry[0];
          }
          var item = document.createElement("li");
          var link = document.createElement("a");
          if (hit.title) {
            link.href = session[1];
            link.textContent = "titre de la séance";
            item.appendChild(link);
            item.appendChild(snippet(session[0], pattern));
          } else {
            // a result with a moment lands on it, with the words marked there
            link.href = session[1] + (entry[3] === null ? "" : "#t=" + entry[3] + "&q=" + encodeURIComponent(words));
            link.textContent = entry[1] + (entry[2] ? " à " + entry[2] : "");
            item.appendChild(link);
            item.appendChild(snippet(entry[4], pattern));
          }
          self.list.appendChild(item);
        });
      });
    };
  }

  function keyFor(manifest, term) {
    for (var n = term.length; n > 0; n--) {
      if (manifest.keys.indexOf(term.slice(0, n)) >= 0) { return term.slice(0, n); }
    }
    return null;
  }

  function run(query) {
    var token = ++generation;
    results.textContent = "";
    more.hidden = true;
    var terms = fold(query).split(/[^a-z0-9]+/).filter(Boolean);
    if (!terms.length) { status.textContent = ""; return; }
    status.textContent = "Recherche…";
    load("manifest").then(function (manifest) {
      if (!manifest) { status.textContent = "L'index de recherche est introuvable."; return null; }
      return Promise.all(terms.map(function (term) {
        var key = keyFor(manifest, term);
        return key === null ? null : load("t-" + key).then(function (shard) { return shard ? shard[term] : null; });
      })).then(function (values) {
        if (token !== generation) { return; }
        var sessionOf = [];
        manifest.sessions.forEach(function (s, number) { for (var i = 0; i < s[3]; i++) { sessionOf[s[2] + i] = number; } });
        var matches = values.map(function (value) {
          var pair = Array.isArray(value) ? value : [value, []];
          return { entries: postings(pair[0]), titles: new Set(pair[1]) };
        });
        // an entry is a result when it holds one of the words and the others are in it or in
        // its session's title; a session whose title alone holds them all is one result
        var candidates = new Set();
        matches.forEach(function (m) { m.entries.forEach(function (_, entry) { candidates.add(entry); }); });
        var hits = [], withEntries = new Set();
        candidates.forEach(function (entry) {
          var score = 0;
          var all = matches.every(function (m) {
            score += m.entries.get(entry) || 0;
            return m.entries.has(entry) || m.titles.has(sessionOf[entry]);
          });
          if (all) { hits.push({ entry: entry, session: sessionOf[entry], score: score }); withEntries.add(sessionOf[entry]); }
        });
        manifest.sessions.forEach(function (s, number) {
          if (!withEntries.has(number) && s[3] && matches.every(function (m) { return m.titles.has(number); })) {
            hits.push({ entry: s[2], session: number, score: 0.5, title: true });
          }
        });
        // sessions in the order of their best hit, hits in each session by score, then in order
        var best = {};
        hits.forEach(function (h) { best[h.session] = Math.max(best[h.session] || 0, h.score); });
        hits.sort(function (a, b) {
          if (a.session !== b.session) { return best[b.session] - best[a.session] || a.session - b.session; }
          return b.score - a.score || a.entry - b.entry;
        });
        var search = new Search(manifest, hits, wordPattern(terms), token, terms.join(" "));
        search.page();
        more.onclick = function () { search.page(); };
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    run(input.value);
  });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(initial); }
})();
