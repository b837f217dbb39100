"""The replay page as a reader uses it, in the real browser (Debian's Chromium, Playwright):
following that never fights the reader's scrolling, links that land on their sentence, a
player that stays on a phone's screen, sharing and citing, search inside the session."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

from pipeline.site.serve import make_server
from pipeline.text import speaking_label

from .test_site import BROWSER_FLAGS, _browser_or_skip, site  # noqa: F401 - the fixture

PAGE = "sessions/2022-01-11-seance-1/index.html"
PLAYER = "document.getElementById('player')"


@pytest.fixture(scope="module")
def served(site: Path):  # noqa: F811
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=[*BROWSER_FLAGS, "--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


def open_page(browser, served: str, width: int = 1280, height: int = 900, hash_: str = ""):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.rstrip("/"))
    page = context.new_page()
    page.goto(served + PAGE + hash_)
    page.wait_for_function(f"{PLAYER}.readyState >= 1", timeout=20_000)
    return context, page


def play_fast(page) -> None:
    page.evaluate(f"{PLAYER}.muted = true; {PLAYER}.playbackRate = 2; {PLAYER}.play()")
    page.wait_for_function(f"!{PLAYER}.paused && {PLAYER}.currentTime > 0", timeout=10_000)


@pytest.mark.parametrize("width", [1280, 390])
def test_following_never_moves_the_page_and_stops_when_the_reader_scrolls_the_box(browser, served: str, width: int):
    context, page = open_page(browser, served, width, hash_="#t=5")
    try:
        play_fast(page)
        page.evaluate("window.scrollTo(0, document.getElementById('synthese-titre').getBoundingClientRect().top + window.scrollY)")
        before = page.evaluate("window.scrollY")
        first = page.evaluate("document.querySelector('.sentence.current').dataset.start")
        page.wait_for_timeout(6_000)
        assert page.evaluate("document.querySelector('.sentence.current').dataset.start") != first, "the marking moved on"
        assert page.evaluate("window.scrollY") == before, "the reader's scroll of the page is never undone"
        # the reader scrolls the transcript box: following stops, and says how to come back
        page.evaluate("window.scrollTo(0, 0)")
        box = page.locator("#transcript")
        box.scroll_into_view_if_needed()
        box.hover()
        page.mouse.wheel(0, -2000)
        page.wait_for_function("!document.getElementById('back-to-current').hidden", timeout=5_000)
        held = page.evaluate("document.getElementById('transcript').scrollTop")
        page.wait_for_timeout(3_000)
        assert page.evaluate("document.getElementById('transcript').scrollTop") == held, "the box is left where the reader put it"
        page.locator("#back-to-current").click()
        assert page.evaluate("document.getElementById('back-to-current').hidden")
        inside = """() => { const s = document.querySelector('.sentence.current').getBoundingClientRect();
            const b = document.getElementById('transcript').getBoundingClientRect(); return s.top >= b.top && s.bottom <= b.bottom; }"""
        page.wait_for_function(inside, timeout=5_000)
    finally:
        context.close()


def test_every_paragraph_link_lands_on_its_sentence_marked_and_in_view(browser, served: str):
    context, page = open_page(browser, served)
    try:
        starts = page.evaluate("Array.from(document.querySelectorAll('.transcript > li')).map(li => li.dataset.start)")
        assert len(starts) >= 3
        wrong = []
        for start in starts:
            page.evaluate(f"window.location.hash = '#t={int(float(start))}'")
            page.wait_for_function(f"Math.abs({PLAYER}.currentTime - {float(start)}) < 0.6", timeout=10_000)
            page.evaluate(f"{PLAYER}.pause()")
            marked = page.evaluate(
                "document.querySelector('.sentence.current') && document.querySelector('.sentence.current').dataset.start"
            )
            visible = page.evaluate(
                """() => { const s = document.querySelector('.sentence.current').getBoundingClientRect();
                const b = document.getElementById('transcript').getBoundingClientRect();
                return s.top >= b.top - 1 && s.bottom <= b.bottom + 1 && s.bottom > 0 && s.top < window.innerHeight; }"""
            )
            if marked != start or not visible:
                wrong.append((start, marked, visible))
        assert wrong == [], f"{len(wrong)} of {len(starts)} paragraph links land wrong: {wrong[:5]}"
    finally:
        context.close()


def test_arriving_from_a_search_marks_the_words_found(browser, served: str):
    start = "60"
    context, page = open_page(browser, served, hash_=f"#t={start}&q=gouvernance")
    try:
        page.wait_for_function("document.querySelector('.transcript li.current mark.found') !== null", timeout=10_000)
        assert page.evaluate("document.querySelector('li.current mark.found').textContent.toLowerCase()") == "gouvernance"
        assert page.evaluate(f"{PLAYER}.paused"), "arriving does not play"
    finally:
        context.close()


def test_share_copies_without_playing_and_cite_copies_a_quotation(browser, served: str):
    context, page = open_page(browser, served, width=390)
    try:
        share = page.locator("a.share").nth(2)
        share.click()
        confirm = page.locator(".transcript > li").nth(2).locator(".confirm")
        page.wait_for_function("document.querySelectorAll('.transcript .confirm')[2].textContent === 'Lien copié'", timeout=5_000)
        assert confirm.is_visible() and page.evaluate(f"{PLAYER}.paused")
        box, there = confirm.bounding_box(), share.bounding_box()
        assert box and there and abs(box["y"] - there["y"]) < 60, "the confirmation is beside the control"
        href = share.get_attribute("href") or ""
        assert page.evaluate("navigator.clipboard.readText()") == served + PAGE + href
        page.locator("button.cite").nth(2).click()
        page.wait_for_function("document.querySelectorAll('.transcript .confirm')[2].textContent === 'Citation copiée'", timeout=5_000)
        quotation = page.evaluate("navigator.clipboard.readText()")
        said = page.evaluate("document.querySelectorAll('.transcript > li')[2].querySelector('.text').textContent.trim()")
        assert quotation.startswith("« " + said.split()[0]) and " — " in quotation and "séance 1" in quotation and quotation.endswith(href)
    finally:
        context.close()


def test_selecting_words_never_seeks(browser, served: str):
    context, page = open_page(browser, served)
    try:
        sentence = page.locator(".transcript .sentence").nth(6)
        sentence.dblclick()
        page.wait_for_timeout(600)
        assert page.evaluate(f"{PLAYER}.currentTime") < 1, "a double click selects a word, it does not seek"
        assert page.evaluate("String(window.getSelection()).trim().length") > 0
        sentence.click(click_count=3)
        page.wait_for_timeout(600)
        selected = page.evaluate("String(window.getSelection())")
        assert "#" not in selected and "Citer" not in selected and ":" not in selected[:12], selected
    finally:
        context.close()


def test_shortcuts_act_on_the_player_and_never_inside_a_field(browser, served: str):
    context, page = open_page(browser, served)
    try:
        page.locator("#find").focus()
        page.keyboard.press("l")
        assert page.evaluate(f"{PLAYER}.currentTime") < 1 and page.locator("#find").input_value() == "l"
        page.locator("h1").click()
        page.keyboard.press("l")
        page.wait_for_function(f"Math.abs({PLAYER}.currentTime - 15) < 0.6", timeout=5_000)
        page.keyboard.press(">")
        assert page.evaluate(f"{PLAYER}.playbackRate") == 1.25
    finally:
        context.close()


def test_search_inside_the_session_counts_and_steps(browser, served: str):
    context, page = open_page(browser, served)
    try:
        page.locator("#find").fill("données")
        page.wait_for_function("/^1 \\/ \\d+$/.test(document.getElementById('find-count').textContent)", timeout=5_000)
        total = int(page.locator("#find-count").text_content().split("/")[1])  # type: ignore[union-attr]
        assert total > 3
        page.locator("#find-next").click()
        assert page.locator("#find-count").text_content() == f"2 / {total}"
        assert page.evaluate("document.querySelector('mark.found.here').textContent.toLowerCase()") == "données"
        page.locator("#find-previous").click()
        page.locator("#find-previous").click()
        assert page.locator("#find-count").text_content() == f"{total} / {total}"
    finally:
        context.close()


def test_on_a_phone_the_player_stays_on_screen_with_its_controls(browser, served: str):
    context, page = open_page(browser, served, width=390, height=844)
    try:
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(300)
        mini = page.locator("#mini").bounding_box()
        assert mini and 0 <= mini["y"] <= 2 and mini["width"] <= 390
        page.locator("#mini-forward").click()
        page.wait_for_function(f"Math.abs({PLAYER}.currentTime - 15) < 0.6", timeout=5_000)
        page.locator("#mini-back").click()
        page.wait_for_function(f"{PLAYER}.currentTime < 0.6", timeout=5_000)
        page.locator("#mini-rate").select_option("1.5")
        assert page.evaluate(f"{PLAYER}.playbackRate") == 1.5
        first_card = page.goto(served + "index.html") and page.locator(".session-card").first.bounding_box()
        assert first_card and first_card["y"] < 600, "the first session shows on a phone's first screen"
    finally:
        context.close()


CONTRAST = """() => {
  const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const bg = getComputedStyle(document.body).backgroundColor;
  const label = getComputedStyle(document.querySelector('.chart .label')).fill;
  const cell = getComputedStyle(document.querySelector('.chart .cell')).stroke;
  return [ratio(label, bg), ratio(cell, bg)];
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_chart_reads_in_light_and_dark(browser, served: str, scheme: str):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(served + "index.html")
        label, cell = page.evaluate(CONTRAST)
        assert label >= 4.5 and cell >= 3.0, (scheme, label, cell)
    finally:
        context.close()


def test_every_link_of_the_feed_resolves(site: Path):  # noqa: F811
    feed = ET.parse(site / "feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    import re

    checked = 0
    for entry in feed.findall("a:entry", ns):
        for href in re.findall(r'href="([^"]+)"', entry.find("a:content", ns).text or ""):  # type: ignore[union-attr]
            parsed = urlparse(href)
            if parsed.scheme:
                continue
            assert (site / parsed.path).exists(), href
            checked += 1
    assert checked > 20


def test_speaking_times_say_seconds_when_there_are_only_seconds():
    assert [speaking_label(s) for s in (3, 44, 65, 3725)] == ["3 s", "44 s", "1 min 05", "1 h 02"]
