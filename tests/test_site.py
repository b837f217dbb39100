from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from pipeline import keywords as keywords_io
from pipeline import transcript as transcript_io
from pipeline.catalogue import Catalogue, Session, Speaker, load_themes
from pipeline.keywords import ThemeModel, analyse, extract_keywords
from pipeline.site.publish import publish, read_search_index, synthesis_passages
from pipeline.site.serve import make_server
from pipeline.store import Store, atomic_write
from pipeline.subtitles import to_vtt
from pipeline.synthesis import synthesize
from pipeline.transcript import Segment, Word

from .conftest import ROOT, SAMPLE

FIXTURE = Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json"
EVIL = '<script>alert("x")</script> <img src=x onerror=alert(1)> [clic](javascript:alert(1)) javascript:alert(2)'
THEMES = load_themes(ROOT / "recordings" / "themes.toml")


class Page(HTMLParser):
    """Collects what the tests look at: links, sources, scripts, attributes, headings."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.headings: list[int] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.attributes += [(tag, k, v) for k, v in attrs]
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag == "script":
            self.scripts.append(values)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        for key in ("href", "src"):
            if values.get(key):
                self.refs.append((tag, key, values[key] or ""))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def make_session(index: int, title: str, speakers: tuple[Speaker, ...], recording: str = "") -> Session:
    return Session(
        id=f"2022-0{index}-1{index}-seance-{index}",
        title=title,
        recording=recording,
        number=index,
        date=f"2022-0{index}-1{index}",
        themes=("sobriete",),
        speakers=speakers,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, nlp) -> Path:
    """A three-session site; the third session carries hostile text everywhere."""
    root = tmp_path_factory.mktemp("site")
    recordings = root / "recordings"
    recordings.mkdir()
    (recordings / "seance-1.mp4").write_bytes(SAMPLE.read_bytes())
    themes = load_themes(ROOT / "recordings" / "themes.toml")
    model = ThemeModel.build(nlp, themes)
    base = transcript_io.load(FIXTURE)
    evil_segment = Segment(id=99, start=100.0, end=104.0, text=EVIL, words=(Word(100.0, 104.0, " " + EVIL, 0.9),))
    sessions = [
        make_session(1, "Sobriété numérique", (Speaker("Camille Durand", "Modératrice"),), "seance-1.mp4"),
        make_session(2, "Gouvernance des données", (Speaker("Inès Martin", "Chercheuse"),)),
        make_session(3, EVIL, (Speaker(EVIL, EVIL),)),
    ]
    store = Store(root / "outputs")
    for session in sessions:
        transcript = replace(base, session_id=session.id)
        if session.number == 3:
            transcript = replace(transcript, segments=(*transcript.segments, evil_segment))
        found = extract_keywords(transcript, analyse(transcript, nlp), nlp, model, session.title)
        draft = synthesize(transcript, found, session, themes)
        markdown = draft.markdown
        if session.number == 2:  # an editor rewrites the first quote under « Sobriété »
            markdown = re.sub(
                r"(### Sobriété[^\n]*\n(?:[^#\n]*\n)*?- \[[\d:]+\]\(#t=\d+\)) « [^\n]*", r"\1 « Passage retenu par l'éditrice. »", markdown
            )
        for name, text in {
            "transcript.json": transcript_io.dumps(transcript),
            "transcript.vtt": to_vtt(transcript),
            "transcript.txt": "x",
            "transcript.srt": "x",
            "keywords.json": keywords_io.dumps(found),
            "keywords.md": "x",
            "synthesis.md": markdown + f"\n{EVIL}\n",
        }.items():
            atomic_write(store.path(session.id, name), text.encode())
    site, skipped, _ = publish(store, Catalogue(sessions=tuple(sessions), themes=themes), recordings=recordings)
    assert skipped == []
    return site


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_internal_link_resolves(site: Path):
    checked = 0
    for page in pages(site):
        for tag, key, ref in parse(page).refs:
            parsed = urlparse(ref)
            if parsed.scheme in {"http", "https", "mailto", "data"} or ref.startswith("#"):
                continue
            # a root-relative link (the 404 page, shown by a server at any depth) starts at the site's root
            base = site if parsed.path.startswith("/") else page.parent
            target = (base / unquote(parsed.path).lstrip("/")).resolve()
            assert target.exists(), f"{page.relative_to(site)}: <{tag} {key}={ref}> is broken"
            assert site.resolve() in target.parents, f"{ref} leaves the site"
            checked += 1
    assert checked > 100


def test_pages_are_french_with_ordered_headings_and_make_no_outside_request(site: Path):
    for page in pages(site):
        parsed = parse(page)
        assert parsed.lang == "fr", page
        assert parsed.headings[0] == 1 and parsed.headings.count(1) == 1, page
        for previous, current in itertools.pairwise(parsed.headings):
            assert current <= previous + 1, f"{page.relative_to(site)}: h{previous} then h{current}"
        for tag, key, ref in parsed.refs:
            if tag in {"script", "img", "video", "audio", "track", "link", "source"} and not (
                tag == "link" and key == "href" and ref.endswith(".xml")
            ):
                assert not urlparse(ref).scheme.startswith("http"), f"{page.relative_to(site)} loads {ref}"


def test_hostile_text_never_becomes_markup(site: Path):
    for page in pages(site):
        parsed = parse(page)
        for script in parsed.scripts:
            if script.get("type") == "application/ld+json":
                continue  # data, checked below
            assert (script.get("src") or "").split("/")[-1] in {"player.js", "search.js"}, page
        for tag, key, value in parsed.attributes:
            assert not key.startswith("on"), f"{page.relative_to(site)}: <{tag} {key}>"
            assert not (value or "").strip().lower().startswith("javascript:"), f"{page.relative_to(site)}: {key}={value}"
    session_page = next(p for p in pages(site) if "seance-3" in str(p))
    assert "&lt;script&gt;" in session_page.read_text(encoding="utf-8")
    for part in (site / "assets" / "search").iterdir():
        assert "</script" not in part.read_text(encoding="utf-8").lower(), part


def test_session_page_has_player_captions_and_seekable_transcript(site: Path):
    page = site / "sessions" / "2022-01-11-seance-1" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert '<video id="player"' in text and 'src="../../media/2022-01-11-seance-1.mp4"' in text
    assert '<track kind="captions" srclang="fr"' in text and "data:text/vtt" in text
    assert len(re.findall(r'<button type="button" class="seek" data-start="', text)) >= 3
    assert len(re.findall(r'<span class="sentence" data-start="', text)) > len(re.findall(r'class="seek"', text)), "sentences seek too"
    assert text.index('id="transcription-titre"') < text.index('id="synthese-titre"'), "the transcript beside the player"
    assert '<track kind="chapters" srclang="fr" label="Chapitres"' in text and '<ol class="chapters">' in text
    assert '<a rel="next" href="../2022-02-12-seance-2/index.html">' in text and 'rel="prev"' not in text, "the first session"
    assert '<a class="share" href="#t=0"' in text, "each paragraph has a link to its moment, to copy"
    import webvtt

    chapters = webvtt.read(str(site / "sessions" / "2022-01-11-seance-1" / "chapters.vtt"))
    assert len(chapters) >= 1 and chapters[0].start == "00:00:00.000"
    assert (site / "media" / "2022-01-11-seance-1.mp4").stat().st_size == SAMPLE.stat().st_size


def test_a_page_without_playable_media_offers_no_seek_control(site: Path):
    text = (site / "sessions" / "2022-02-12-seance-2" / "index.html").read_text(encoding="utf-8")
    assert 'id="player"' not in text and 'class="seek"' not in text
    assert "Aucun enregistrement n'est publié" in text and '<span class="clock">00:0' in text


def test_theme_pages_quote_the_passages_the_synthesis_keeps(site: Path):
    theme = (site / "themes" / "sobriete.html").read_text(encoding="utf-8")
    assert "Passage retenu par l&#39;éditrice." in theme, "the editor's version of the quote, not the transcript's first mention"
    section = theme[theme.index("sessions/2022-01-11-seance-1/index.html") :]
    assert "les centres de données consomment beaucoup" in section, "the draft's quote, as the synthesis has it"
    assert synthesis_passages(
        "### Sobriété (3 % de la séance)\n\n- [01:05](#t=65) « Mot. »\n\n## Chapitres\n- [00:00](#t=0) X", THEMES
    ) == {"sobriete": [(65, "Mot.")]}


def test_one_form_for_moments_and_durations_on_every_page(site: Path):
    """Moments as the syntheses write them (04:05, 1:02:03), durations as « 47 min » / « 1 h 05 »."""
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r">00:\d\d:\d\d<", text), f"{page.relative_to(site)}: an hour-less moment written with hours"
        assert not re.search(r"durée \d", text) or re.search(r"durée \d+ (min|h)", text), page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(r"· \d+ min</p>", index), "the index gives each session's length in minutes"


def test_index_is_newest_first_with_chart_theme_pages_search_and_feed(site: Path):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert index.index("seance-3/index.html") < index.index("seance-2/index.html") < index.index("seance-1/index.html")
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in index and '<table class="coverage">' in index
    assert (site / "themes" / "sobriete.html").read_text(encoding="utf-8").count("#t=") >= 3
    entries = read_search_index(site)
    assert any("gouvernance des données" in e["text"] for e in entries)
    feed = ET.parse(site / "feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert len(feed.findall("a:entry", ns)) == 3
    assert all(e.find("a:content", ns).get("type") == "html" for e in feed.findall("a:entry", ns))
    contents = [e.find("a:content", ns).text or "" for e in feed.findall("a:entry", ns)]
    assert all('href="#t=' not in c for c in contents), "a moment in the feed resolves against its session page"
    assert any('href="sessions/2022-01-11-seance-1/index.html#t=' in c for c in contents)
    assert [e.find("a:published", ns).text for e in feed.findall("a:entry", ns)][-1] == "2022-01-11T00:00:00Z"


def test_pages_describe_themselves_and_downloads_read_as_utf8_anywhere(site: Path):
    page = (site / "sessions" / "2022-01-11-seance-1" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="description" content="' in page and '<meta property="og:title" content="Sobriété numérique">' in page
    assert '<meta name="color-scheme" content="light dark">' in page
    download = (site / "sessions" / "2022-01-11-seance-1" / "transcript.txt").read_bytes()
    assert download.startswith(b"\xef\xbb\xbf"), "a byte-order mark: read as UTF-8 even without a charset header"
    css = (site / "assets" / "style.css").read_text(encoding="utf-8")
    assert "prefers-color-scheme: dark" in css and "@media print" in css


BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--mute-audio",
]


def _browser_or_skip() -> str:
    import os
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        executable = None
    if executable is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but chromium or playwright is missing (apt-get install chromium; pip install playwright)")
        pytest.skip("no chromium here (apt-get install chromium) or no playwright")
    return executable


def test_real_browser_seeks_the_player_and_loads_captions(site: Path, tmp_path: Path):
    executable = _browser_or_skip()
    import threading

    from playwright.sync_api import sync_playwright

    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/sessions/2022-01-11-seance-1/index.html"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
            context = browser.new_context(viewport={"width": 1000, "height": 1400})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.split("/sessions")[0])
            page = context.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20_000)
            # « # » copies the passage's link
            share = page.locator("a.share").nth(1)
            share.click()
            page.wait_for_function("document.querySelectorAll('.transcript .confirm')[1].textContent === 'Lien copié'", timeout=5_000)
            assert page.evaluate("document.getElementById('player').paused"), "« # » copies without playing"
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied.endswith("index.html" + (share.get_attribute("href") or "?")), copied
            third = page.locator("button.seek").nth(2)
            start = float(third.get_attribute("data-start") or "nan")
            third.scroll_into_view_if_needed()
            before = page.evaluate("window.scrollY")
            third.click()
            page.wait_for_function("!document.getElementById('player').seeking", timeout=10_000)
            assert abs(page.evaluate("window.scrollY") - before) <= 1400, "the page stays where the reader is"
            current = page.evaluate("document.getElementById('player').currentTime")
            assert start > 0 and start - 0.01 <= current <= start + 0.5, (start, current)
            # the moment is in the address bar, to share; the page did not jump back to the player
            assert page.evaluate("window.location.hash") == f"#t={int(start)}"
            assert page.evaluate("document.activeElement.classList.contains('seek')")
            # Media Fragments forms typed on the open page seek
            for fragment, expected in (("1:30", 90.0), ("00:00:40", 40.0), ("npt:12.5", 12.5), ("20,25", 20.0)):
                page.evaluate(f"window.location.hash = '#t={fragment}'")
                player = "document.getElementById('player')"
                page.wait_for_function(f"Math.abs({player}.currentTime - {expected}) < 0.6 && !{player}.seeking", timeout=10_000)
            # a sentence clicked seeks there, and the sentence being heard is marked in its paragraph
            sentence = page.locator(".transcript .sentence").nth(4)
            begin = float(sentence.get_attribute("data-start") or "nan")
            sentence.click()
            page.wait_for_function(f"Math.abs({player}.currentTime - {begin}) < 1.5 && !{player}.seeking", timeout=10_000)
            page.wait_for_function("document.querySelectorAll('.sentence.current').length === 1", timeout=5_000)
            assert page.evaluate("document.querySelector('.sentence.current').closest('li').classList.contains('current')")
            assert page.evaluate("window.location.hash") == f"#t={int(begin)}"
            page.wait_for_function("document.querySelector('track').readyState === 2", timeout=10_000)
            cues = page.evaluate("document.getElementById('player').textTracks[0].cues.length")
            assert cues > 5
            shot = tmp_path / "session-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            browser.close()
    finally:
        server.shutdown()


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_real_browser_search_finds_whole_words_without_accents(site: Path):
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        page = browser.new_page()
        page.goto((site / "search.html").as_uri() + "?q=donnees%20PUBLIQUES")
        page.wait_for_selector("#results mark", timeout=10_000)
        marked = page.eval_on_selector_all("#results mark", "ms => ms.map(m => m.textContent.toLowerCase())")
        assert marked and set(marked) <= {"données", "publiques"}, marked
        assert page.eval_on_selector_all("#results > li > h2", "hs => hs.length") >= 1, "grouped by session"
        assert "résultat" in page.inner_text("#search-status")
        page.fill("#q", "mer")  # the transcripts say « Merci », never « mer »
        page.click("#search-form button[type=submit]")
        page.wait_for_function("document.getElementById('search-status').textContent === 'Aucun résultat.'", timeout=5_000)
        assert page.evaluate("window.location.search") == "?q=mer", "the query is kept in the address"
        # a result followed, then Back: the same search is there again
        page.fill("#q", "sobriete")
        page.click("#search-form button[type=submit]")
        page.wait_for_selector("#results li a", timeout=10_000)
        page.click("#results li a")
        page.wait_for_load_state()
        assert "/sessions/" in page.url
        page.go_back()
        page.wait_for_selector("#results mark", timeout=10_000)
        assert page.input_value("#q") == "sobriete" and "résultat" in page.inner_text("#search-status")
        browser.close()


def test_axe_finds_no_accessibility_violation(site: Path):
    """axe-core (WCAG 2.1 A and AA rules) on every kind of page, in the real browser."""
    import os

    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    if not AXE.exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("axe-core is missing: run `npm ci`")
        pytest.skip("axe-core is not installed (npm ci)")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        page = browser.new_page()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for relative in PAGE_KINDS:
                page.goto((site / relative).as_uri() + ("?q=donnees" if relative == "search.html" else ""))
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})")
                problems += [
                    f"{relative} ({scheme}): {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)"
                    for v in result["violations"]
                ]
        browser.close()
    assert not problems, "\n".join(problems)


PAGE_KINDS = [
    "index.html",
    "sessions/2022-01-11-seance-1/index.html",
    "sessions/2022-02-12-seance-2/index.html",
    "themes/index.html",
    "themes/sobriete.html",
    "search.html",
    "feed.html",
    "about.html",
    "404.html",
]
TAP_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll('nav a, button, input, select, summary, a.share, .chapters a, .results a')) {
    const box = (el.type === 'checkbox' && el.closest('label') ? el.closest('label') : el).getBoundingClientRect();
    if (box.width === 0 || el.closest('[hidden]')) continue;
    const name = el.tagName + ' ' + (el.textContent || el.id).trim().slice(0, 30);
    if (box.height < 44 || box.width < 24) small.push(name + ' ' + Math.round(box.width) + 'x' + Math.round(box.height));
  }
  return small;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_the_screen_with_tap_targets_a_finger_can_hit(site: Path, width: int):
    """No horizontal scrolling on any page kind, on a desktop and on a phone; controls at least
    44 px tall (WCAG 2.5.5) on a phone."""
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        for relative in PAGE_KINDS:
            page.goto((site / relative).as_uri() + ("?q=donnees" if relative == "search.html" else ""))
            page.wait_for_timeout(200)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                problems.append(f"{relative}: {wide} px wide on a {width} px screen")
            if width < 600:
                problems += [f"{relative}: {target}" for target in page.evaluate(TAP_TARGETS)]
        browser.close()
    assert not problems, "\n".join(problems)


def test_session_pages_describe_their_media_and_chapters_for_search_engines(site: Path):
    text = (site / "sessions" / "2022-01-11-seance-1" / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert block, "JSON-LD on a page with its recording"
    data = json.loads(block.group(1))
    assert data["@type"] == "VideoObject" and data["duration"].startswith("PT") and data["uploadDate"] == "2022-01-11"
    assert data["contentUrl"] == "../../media/2022-01-11-seance-1.mp4"
    assert data["hasPart"][0]["@type"] == "Clip" and data["hasPart"][0]["url"] == "#t=0"
    evil = next(p for p in pages(site) if "seance-3" in str(p)).read_text(encoding="utf-8")
    assert "application/ld+json" not in evil, "no recording, no media description"
    assert "Page introuvable" in (site / "404.html").read_text(encoding="utf-8")
    assert 'href="feed.xml"' in (site / "feed.html").read_text(encoding="utf-8")


def test_serve_answers_byte_ranges_and_missing_pages(site: Path):
    """`pipeline serve`: a player can seek (206 with the asked bytes), text says UTF-8, a
    missing page gets the site's 404 page."""
    import threading
    import urllib.error
    import urllib.request

    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        media = site / "media" / "2022-01-11-seance-1.mp4"
        request = urllib.request.Request(root + "media/2022-01-11-seance-1.mp4", headers={"Range": "bytes=100-199"})
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 206 and answer.headers["Content-Range"] == f"bytes 100-199/{media.stat().st_size}"
            assert answer.read() == media.read_bytes()[100:200]
        with urllib.request.urlopen(root + "sessions/2022-01-11-seance-1/transcript.txt") as answer:
            assert answer.headers["Content-Type"] == "text/plain; charset=utf-8" and answer.headers["Accept-Ranges"] == "bytes"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(root + "sessions/nowhere/index.html")
        assert missing.value.code == 404 and "Page introuvable" in missing.value.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
