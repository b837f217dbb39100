// In-browser search over syntheses, transcripts, keywords and speakers (index in
// search-index.js: no server). Whole words, without accents or case (« ecole » finds « école »,
// « mer » does not find « merci »); results ranked by how often the words occur, grouped by
// session, a snippet around the first match with the words marked; 50 at a time; the query is
// kept in the address (?q=), so Back and a shared link give the same results.
(function () {
  "use strict";
  var index = window.SEARCH_INDEX || [];
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  var status = document.getElementById("search-status");
  var more = document.getElementById("more");
  var PAGE = 50;
  var shown = 0;
  var hits = [];

  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  var folded = index.map(function (entry) { return fold(entry.text); });
  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function wordPattern(terms) {
    return new RegExp("(^|[^a-z0-9])(" + terms.map(escapeRegExp).join("|") + ")(?=$|[^a-z0-9])", "g");
  }

  function snippet(i, pattern) {
    // folding keeps one character per character here (accents removed after NFD), so
    // positions in the folded text are positions in the original
    var text = index[i].text, low = folded[i];
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

  function render(pattern) {
    var last = null, list = null;
    hits.slice(shown, shown + PAGE).forEach(function (hit) {
      var entry = index[hit.i];
      if (entry.title !== last) {
        var group = document.createElement("li");
        var heading = document.createElement("h2");
        heading.textContent = entry.title;
        list = document.createElement("ol");
        group.appendChild(heading);
        group.appendChild(list);
        results.appendChild(group);
        last = entry.title;
      }
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = entry.url;
      link.textContent = entry.kind + (entry.clock ? " à " + entry.clock : "");
      item.appendChild(link);
      item.appendChild(snippet(hit.i, pattern));
      list.appendChild(item);
    });
    shown = Math.min(hits.length, shown + PAGE);
    status.textContent = hits.length ? hits.length + " résultat(s)" + (shown < hits.length ? ", " + shown + " affichés" : "") : "Aucun résultat.";
    more.hidden = shown >= hits.length;
  }

  function run(query) {
    results.textContent = "";
    shown = 0;
    hits = [];
    var terms = fold(query).split(/[^a-z0-9]+/).filter(Boolean);
    if (!terms.length) { status.textContent = ""; more.hidden = true; return; }
    var pattern = wordPattern(terms);
    var each = terms.map(function (t) { return wordPattern([t]); });
    for (var i = 0; i < index.length; i++) {
      var text = folded[i] + " " + fold(index[i].title);
      if (!each.every(function (p) { p.lastIndex = 0; return p.test(text); })) { continue; }
      var count = (folded[i].match(pattern) || []).length;
      hits.push({ i: i, score: count });
    }
    // sessions in the order of their best hit, hits in each session by score, then in order
    var best = {};
    hits.forEach(function (h) { var t = index[h.i].title; best[t] = Math.max(best[t] || 0, h.score); });
    hits.sort(function (a, b) {
      var ta = index[a.i].title, tb = index[b.i].title;
      if (ta !== tb) { return best[tb] - best[ta] || (ta < tb ? -1 : 1); }
      return b.score - a.score || a.i - b.i;
    });
    render(pattern);
    more.onclick = function () { render(pattern); };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    run(input.value);
  });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(initial); }
})();
