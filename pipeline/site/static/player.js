// Seek the replay to a transcript paragraph or to a "#t=SECONDS" link, without a server;
// show one speaker's paragraphs only.
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
  function seek(seconds) {
    if (isNaN(seconds)) { return; }
    player.currentTime = seconds;
    var playing = player.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest("button.seek, a[href^='#t=']");
    if (!target) { return; }
    event.preventDefault();
    var seconds = target.dataset.start !== undefined ? target.dataset.start : target.getAttribute("href").slice(3);
    seek(parseFloat(seconds));
    player.focus();
  });
  var match = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (match) {
    var start = parseFloat(match[1]);
    if (player.readyState >= 1) { player.currentTime = start; }
    else { player.addEventListener("loadedmetadata", function () { player.currentTime = start; }, { once: true }); }
  }
})();
