"""The editor's workbench (``pipeline review``): the same editor files as the text workflow,
written safely, and a page that works in the real browser."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import transcript as transcript_io
from pipeline.archive import verify
from pipeline.plan import Project
from pipeline.runner import execute
from pipeline.speakers import names_toml, to_json
from pipeline.steps.speakers import speakers_fingerprint
from pipeline.store import Names, Store, sha256_bytes
from pipeline.workbench import Workbench
from pipeline.workbench.server import make_workbench

from .conftest import ROOT
from .test_edits_compose import FIXTURE, voices
from .test_site import BROWSER_FLAGS, _browser_or_skip

SAMPLE = ROOT / "recordings" / "2022-03-17-sobriete.mp4"


@pytest.fixture
def bench(tmp_path: Path, nlp):
    """One session with two voices, its draft made, its recording beside it; the workbench
    served on a free port."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    shutil.copy(SAMPLE, recordings / "s-1.mp4")
    store = Store(tmp_path / "outputs")
    asr = transcript_io.load(FIXTURE)
    doubtful = {"mesurer", "floue", "doublons"}  # words Whisper was unsure of: flags to check
    segments = tuple(
        replace(s, words=tuple(replace(w, probability=0.3) if w.word.strip(" ,.") in doubtful else w for w in s.words))
        for s in asr.segments
    )
    store.write_stage("s-1", "transcribe", "x", {Names.ASR: transcript_io.dumps(replace(asr, segments=segments))})
    project = Project.load(recordings, store.root)
    found = voices()
    store.write_stage(
        "s-1",
        "speakers",
        speakers_fingerprint(project, "s-1"),
        {Names.SPEAKERS: to_json(found), Names.SPEAKER_NAMES: names_toml(found, {})},
    )
    execute(project, ("transcript", "keywords", "synthesis"), load_nlp=lambda: nlp)
    server, url = make_workbench(Workbench(recordings, store.root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield recordings, store, url
    server.shutdown()
    server.server_close()


EDITOR_FILES = (Names.TRANSCRIPT_TXT, Names.SPEAKER_NAMES, Names.SYNTHESIS)


def hashes(store: Store) -> dict[str, str]:
    return {name: sha256_bytes(store.path("s-1", name).read_bytes()) for name in EDITOR_FILES}


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    port = int(url.split(":")[2].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, data


def token_of(url: str) -> str:
    return url.split("?t=")[1]


def change(url: str, action: str, body: dict, **headers: str) -> tuple[int, dict]:
    origin = url.split("/?")[0]
    sent = {"Content-Type": "application/json", "X-Workbench-Token": token_of(url), "Origin": origin, **headers}
    status, data = request(url, "POST", f"/api/session/s-1/{action}", json.dumps(body).encode(), {k: v for k, v in sent.items() if v})
    return status, json.loads(data)


def test_only_the_token_opens_it_and_a_change_must_come_from_its_own_page(bench):
    recordings, store, url = bench
    assert request(url, "GET", "/")[0] == 403
    assert request(url, "GET", "/session/s-1")[0] == 403
    assert request(url, "GET", "/api/session/s-1?t=wrong")[0] == 403
    status, page = request(url, "GET", "/?t=" + token_of(url))
    assert status == 200 and b"s-1" in page
    before = hashes(store)
    view = json.loads(request(url, "GET", f"/api/session/s-1?t={token_of(url)}")[1])
    body = {"line": view["paragraphs"][0]["line"], "text": "Piraté.", "base": view["versions"][Names.TRANSCRIPT_TXT]}
    assert change(url, "paragraph", body, **{"X-Workbench-Token": ""})[0] == 403, "no token"
    assert change(url, "paragraph", body, Origin="http://evil.example")[0] == 403, "another origin"
    assert change(url, "paragraph", body, Origin="")[0] == 403, "no origin"
    assert change(url, "paragraph", body, **{"Content-Type": "text/plain"})[0] == 415
    # an oversize body is refused from its announced length, before a byte of it is read
    import socket

    port = int(url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            f"POST /api/session/s-1/paragraph HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Workbench-Token: {token_of(url)}\r\nOrigin: {url.split('/?')[0]}\r\nContent-Length: 5000000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"text": "')
        assert sock.recv(64).startswith(b"HTTP/1.0 413"), "an oversize body"
    for session in ("../s-1", "..%2Fs-1", "nope", "s-1%00"):
        status, _ = request(
            url,
            "POST",
            f"/api/session/{session}/paragraph",
            json.dumps(body).encode(),
            {"Content-Type": "application/json", "X-Workbench-Token": token_of(url), "Origin": url.split("/?")[0]},
        )
        assert status in (400, 404), session
    assert request(url, "GET", f"/media/..%2F..%2Fetc%2Fpasswd?t={token_of(url)}")[0] == 404
    assert hashes(store) == before, "nothing was written"


def test_a_second_tab_that_saved_first_makes_a_conflict_never_an_overwrite(bench):
    recordings, store, url = bench
    view = json.loads(request(url, "GET", f"/api/session/s-1?t={token_of(url)}")[1])
    paragraph = view["paragraphs"][1]
    base = view["versions"][Names.TRANSCRIPT_TXT]
    status, first = change(
        url, "paragraph", {"line": paragraph["line"], "text": paragraph["text"].replace("floue", "très floue"), "base": base}
    )
    assert status == 200 and "très floue" in store.read_text("s-1", Names.TRANSCRIPT_TXT)
    status, second = change(url, "paragraph", {"line": paragraph["line"], "text": paragraph["text"] + " Ajout.", "base": base})
    assert status == 409 and "was changed since this page showed it" in second["error"]
    assert "Ajout." not in store.read_text("s-1", Names.TRANSCRIPT_TXT)
    assert "très floue" in " ".join(s.text for s in transcript_io.load(store.path("s-1", Names.TRANSCRIPT)).segments), "recomposed at once"


def test_exports_are_word_processor_files_with_speakers_and_moments(bench):
    recordings, store, url = bench
    import io
    import zipfile

    for what in ("transcript", "synthesis"):
        for kind, inside in (("docx", "word/document.xml"), ("odt", "content.xml")):
            status, data = request(url, "GET", f"/export/s-1/{what}.{kind}?t={token_of(url)}")
            assert status == 200 and data[:2] == b"PK", (what, kind)
            xml = zipfile.ZipFile(io.BytesIO(data)).read(inside).decode("utf-8")
            assert "Intervenant" in xml if what == "transcript" else "En bref" in xml
            assert "[00:" in xml


def test_the_page_in_the_browser_edits_every_channel_and_all_outputs_agree(bench, nlp):
    recordings, store, url = bench
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        page.get_by_role("link", name="s-1").click()
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20_000)
        other = context.new_page()  # a second tab on the same session, opened before the edits
        other.goto(page.url)
        # jump to a flag: the player is a second before it
        first = page.locator(".flags button").first
        start = json.loads(page.locator("#view").text_content() or "{}")["flags"][0]["start"]
        first.click()
        page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {max(0.0, start - 1)}) < 0.6", timeout=10_000)
        assert int(page.locator("#to-check").text_content() or "0") > 0
        # correct a word
        page.locator("article.para").nth(1).get_by_role("button", name="Corriger").click()
        area = page.locator("article.para").nth(1).locator("textarea")
        area.fill((area.input_value()).replace("floue", "imprécise"))
        page.locator("article.para").nth(1).get_by_role("button", name="Enregistrer").click()
        page.wait_for_function("document.getElementById('status-line').textContent === 'Enregistré.'", timeout=20_000)
        # rename a voice
        page.locator("#voice-SPEAKER_2").fill("Inès Martin")
        page.locator("#voices li").nth(1).get_by_role("button", name="Renommer").click()
        saved = "document.getElementById('status-line').textContent === 'Enregistré.'"
        page.wait_for_function(
            f"document.querySelector('#voice-SPEAKER_2').value === 'Inès Martin' && {saved}",
            timeout=20_000,
        )
        # accept the glossary proposal the correction made
        page.locator("#proposals").get_by_role("button", name="Accepter").first.click()
        page.wait_for_function("document.getElementById('status-line').textContent === 'Enregistré.'", timeout=30_000)
        # the status, with who and when
        page.locator("#status").select_option("review")
        page.locator("#save-status").click()
        page.wait_for_function("document.querySelectorAll('#history li').length === 1", timeout=20_000)
        # the second tab, which showed the old text, gets the conflict message
        other.locator("article.para").nth(1).get_by_role("button", name="Corriger").click()
        other.locator("article.para").nth(1).locator("textarea").fill("Un autre texte.")
        other.locator("article.para").nth(1).get_by_role("button", name="Enregistrer").click()
        other.wait_for_function("document.getElementById('status-line').textContent.startsWith('Conflit')", timeout=20_000)
        import os

        if os.environ.get("WORKBENCH_SCREENSHOT"):  # the README's picture: WORKBENCH_SCREENSHOT=docs/workbench.png
            page.reload()
            page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20_000)
            page.locator(".flags button").nth(1).click()
            page.screenshot(path=os.environ["WORKBENCH_SCREENSHOT"])
        browser.close()
    text = store.read_text("s-1", Names.TRANSCRIPT_TXT)
    assert "imprécise" in text and "Un autre texte." not in text
    assert 'SPEAKER_2 = "Inès Martin"' in store.read_text("s-1", Names.SPEAKER_NAMES)
    assert "imprécise" in (recordings / "glossary.toml").read_text(encoding="utf-8")
    assert 'status: "review"' in store.read_text("s-1", Names.SYNTHESIS)
    assert any(e.get("event") == "status" and e.get("status") == "review" and e.get("agent") for e in store.events("s-1"))
    transcript = transcript_io.load(store.path("s-1", Names.TRANSCRIPT))
    assert "Inès Martin" in {s.name for s in transcript.speakers} and "imprécise" in " ".join(s.text for s in transcript.segments)
    project = Project.load(recordings, store.root)
    execute(project, ("transcript", "keywords", "synthesis", "publish", "archive"), load_nlp=lambda: nlp)
    site = (store.site_dir / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")
    assert "imprécise" in site and "Inès Martin" in site
    assert verify(store) == [], "the editor files, the outputs and the bag agree"


@pytest.mark.parametrize("width", [1280, 768])
def test_the_workbench_has_no_accessibility_violation_and_works_by_keyboard(bench, width: int):
    recordings, store, url = bench
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    from .test_site import AXE

    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        problems = []
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for address in (url, url.replace("/?", "/session/s-1?")):
                page.goto(address)
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})")
                problems += [f"{address} ({scheme}): {v['id']}: {v['help']}" for v in result["violations"]]
        assert problems == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20_000)
        for _ in range(40):  # keyboard only: Tab reaches the first flag, Enter plays from it
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.classList.contains('flag-button')"):
                break
        assert page.evaluate("document.activeElement.classList.contains('flag-button')")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "!document.getElementById('player').paused || document.getElementById('player').currentTime > 0", timeout=10_000
        )
        browser.close()
