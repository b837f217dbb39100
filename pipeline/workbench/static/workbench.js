// The editor's workbench: the session's sound beside its text. Flags listed in audio order
// and marked in place; a flag clicked plays from a second before it; keyboard n/p (next and
// previous flag), r (replay), k (play/pause), s (slower), never inside a field. Each change is
// sent with the version of the file the page shows: another tab that saved first gets a clear
// conflict, never a silent overwrite. The page shows what the pipeline made of it at once.
(function () {
  "use strict";
  var token = document.querySelector("meta[name=workbench-token]").content;
  var data = document.getElementById("view");
  if (!data) { return; }
  var view = JSON.parse(data.textContent);
  var player = document.getElementById("player");
  var statusLine = document.getElementById("status-line");
  var flagAt = -1;
  var RATES = [1, 0.75, 0.5];

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function say(text, bad) {
    statusLine.textContent = text;
    statusLine.className = "status" + (bad ? " bad" : "");
  }

  function send(action, body) {
    say("Enregistrement…");
    return fetch("/api/session/" + encodeURIComponent(view.id) + "/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Workbench-Token": token },
      body: JSON.stringify(body)
    }).then(function (answer) {
      return answer.json().then(function (payload) {
        if (!answer.ok) {
          var conflict = answer.status === 409;
          say((conflict ? "Conflit : ce texte a été modifié entre-temps (un autre onglet, un autre éditeur ou un passage du pipeline). Rechargez la page pour voir le texte actuel, puis refaites votre modification. " : "Refusé : ") + payload.error, true);
          throw new Error(payload.error);
        }
        view = payload;
        render();
        say("Enregistré.");
        return payload;
      });
    });
  }

  function play(from) {
    if (!player) { return; }
    player.currentTime = Math.max(0, from);
    var started = player.play();
    if (started && started.catch) { started.catch(function () {}); }
  }

  function goFlag(index) {
    if (!view.flags.length) { return; }
    flagAt = (index + view.flags.length) % view.flags.length;
    document.querySelectorAll(".flags button.here, mark.flag.here").forEach(function (node) { node.classList.remove("here"); });
    var button = document.querySelector(".flags li:nth-child(" + (flagAt + 1) + ") button");
    if (button) { button.classList.add("here"); }
    var mark = document.querySelector("mark.flag[data-flag='" + flagAt + "']");
    if (mark) { mark.classList.add("here"); mark.scrollIntoView({ block: "center" }); }
    play(view.flags[flagAt].start - 1);
  }

  // text with the flags marked where their words are
  function marked(text, flags) {
    var fragment = document.createDocumentFragment(), at = 0;
    flags.forEach(function (index) {
      var words = (view.flags[index].text || "").trim();
      var found = words ? text.indexOf(words, at) : -1;
      if (found < 0) { return; }
      fragment.appendChild(document.createTextNode(text.slice(at, found)));
      var mark = el("mark", { "class": "flag " + view.flags[index].kind, "data-flag": String(index), title: view.flags[index].reason }, words);
      fragment.appendChild(mark);
      at = found + words.length;
    });
    fragment.appendChild(document.createTextNode(text.slice(at)));
    return fragment;
  }

  function paragraph(p) {
    var article = el("article", { "class": "para", "data-line": String(p.line) });
    var head = el("p", { "class": "head" });
    var seek = el("button", { type: "button", "class": "seek", "aria-label": "Écouter à partir de " + p.clock }, p.clock);
    seek.addEventListener("click", function () { play(p.start); });
    head.appendChild(seek);
    var voice = el("select", { "aria-label": "Voix du paragraphe de " + p.clock });
    voice.appendChild(el("option", { value: "" }, "voix : " + (nameOf(p.voice) || "—")));
    view.voices.forEach(function (v) { voice.appendChild(el("option", { value: v.name }, "donner à " + v.name)); });
    voice.addEventListener("change", function () {
      if (voice.value) { send("paragraph", { line: p.line, text: p.text, head: voice.value, base: view.versions["transcript.txt"] }).catch(function () {}); }
    });
    head.appendChild(voice);
    var edit = el("button", { type: "button", "class": "edit", "aria-label": "Corriger le paragraphe de " + p.clock }, "Corriger");
    head.appendChild(edit);
    article.appendChild(head);
    var words = el("p", { "class": "words" });
    words.appendChild(marked(p.text, p.flags));
    article.appendChild(words);
    edit.addEventListener("click", function () {
      var area = el("textarea", { rows: "4", "aria-label": "Texte du paragraphe de " + p.clock });
      area.value = p.text;
      var save = el("button", { type: "button", "class": "save" }, "Enregistrer");
      var cancel = el("button", { type: "button" }, "Annuler");
      var form = el("div", { "class": "editing" });
      form.appendChild(area); form.appendChild(save); form.appendChild(cancel);
      words.replaceWith(form);
      edit.disabled = true;
      area.focus();
      save.addEventListener("click", function () {
        send("paragraph", { line: p.line, text: area.value, base: view.versions["transcript.txt"] }).catch(function () {});
      });
      cancel.addEventListener("click", function () { render(); });
    });
    return article;
  }

  function nameOf(id) {
    var voice = view.voices.filter(function (v) { return v.id === id; })[0];
    return voice ? voice.name : "";
  }

  function render() {
    document.getElementById("to-check").textContent = String(view.flags.length);
    var flags = document.getElementById("flags");
    flags.textContent = "";
    view.flags.forEach(function (flag, index) {
      var item = el("li");
      var button = el("button", { type: "button", "class": "flag-button " + flag.kind }, flag.clock + " — " + flag.reason + (flag.text ? " : « " + flag.text + " »" : ""));
      button.addEventListener("click", function () { goFlag(index); });
      item.appendChild(button);
      flags.appendChild(item);
    });
    var list = document.getElementById("paragraphs");
    list.textContent = "";
    view.paragraphs.forEach(function (p) { list.appendChild(paragraph(p)); });
    var voices = document.getElementById("voices");
    voices.textContent = "";
    view.voices.forEach(function (v) {
      var item = el("li");
      var label = el("label", { "for": "voice-" + v.id }, v.id + " (" + Math.round(v.seconds) + " s)");
      var input = el("input", { id: "voice-" + v.id, value: v.name });
      item.appendChild(label); item.appendChild(input);
      if (v.renamable) {
        var rename = el("button", { type: "button" }, "Renommer");
        rename.addEventListener("click", function () {
          send("voice", { voice: v.id, name: input.value, base: view.versions["speakers.toml"] }).catch(function () {});
        });
        item.appendChild(rename);
      } else { input.disabled = true; }
      voices.appendChild(item);
    });
    var proposals = document.getElementById("proposals");
    proposals.textContent = "";
    if (!view.proposals.length) { proposals.appendChild(el("li", {}, "Aucune : les corrections n'apprennent rien de nouveau au glossaire.")); }
    view.proposals.forEach(function (p) {
      var item = el("li", {}, "« " + p.heard + " » → « " + p.text + " » ");
      var accept = el("button", { type: "button" }, "Accepter");
      accept.addEventListener("click", function () { send("proposal", { heard: p.heard, text: p.text }).catch(function () {}); });
      item.appendChild(accept);
      proposals.appendChild(item);
    });
    document.getElementById("synthesis-text").value = view.synthesis;
    document.getElementById("status").value = view.status || "draft";
    var history = document.getElementById("history");
    history.textContent = "";
    view.history.filter(function (e) { return e.event === "status"; }).forEach(function (e) {
      history.appendChild(el("li", {}, e.date + " — " + e.agent + " : " + e.from + " → " + e.status));
    });
  }

  document.getElementById("save-synthesis").addEventListener("click", function () {
    send("synthesis", { markdown: document.getElementById("synthesis-text").value, base: view.versions["synthesis.md"] }).catch(function () {});
  });
  document.getElementById("save-status").addEventListener("click", function () {
    send("status", { status: document.getElementById("status").value, base: view.versions["synthesis.md"] }).catch(function () {});
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey || (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName)))) { return; }
    if (event.key === "n") { goFlag(flagAt + 1); }
    else if (event.key === "p") { goFlag(flagAt - 1); }
    else if (event.key === "r" && flagAt >= 0) { play(view.flags[flagAt].start - 1); }
    else if (event.key === "k" && player) { if (player.paused) { play(player.currentTime); } else { player.pause(); } }
    else if (event.key === "s" && player) { player.playbackRate = RATES[(RATES.indexOf(player.playbackRate) + 1) % RATES.length]; say("Vitesse " + player.playbackRate + "×"); }
    else { return; }
    event.preventDefault();
  });
  render();
})();
