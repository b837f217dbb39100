// In-browser search over syntheses and transcripts (index in search-index.js: no server).
(function () {
  "use strict";
  var index = window.SEARCH_INDEX || [];
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  var status = document.getElementById("search-status");
  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  var folded = index.map(function (entry) { return fold(entry.text + " " + entry.title); });
  function run(query) {
    results.textContent = "";
    var terms = fold(query).split(/\s+/).filter(Boolean);
    if (!terms.length) { status.textContent = ""; return; }
    var found = 0;
    for (var i = 0; i < index.length && found < 50; i++) {
      if (terms.every(function (t) { return folded[i].indexOf(t) !== -1; })) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = index[i].url;
        link.textContent = index[i].title + " — " + index[i].kind + " [" + index[i].clock + "]";
        var text = document.createElement("p");
        text.textContent = index[i].text;
        item.appendChild(link);
        item.appendChild(text);
        results.appendChild(item);
        found++;
      }
    }
    status.textContent = found ? found + " résultat(s)" + (found === 50 ? " (50 premiers)" : "") : "Aucun résultat.";
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); run(input.value); });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(initial); }
})();
