"""Text an editor pastes in is carried safely by every format: control characters never make
the feed, the chart or Dublin Core ill-formed; an unclosed element never silences a page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.cli import main
from pipeline.site.publish import render_markdown
from pipeline.store import Names, Store
from pipeline.text import xml_safe

from .test_editor_files import LATER, series  # noqa: F401 - the fixture

HOSTILE_TITLE = "Sobri\u0001été\u000b et données\ufffe"


def toml_escaped(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)


def test_characters_xml_cannot_hold_are_removed():
    assert xml_safe(HOSTILE_TITLE) == "Sobriété et données"
    assert xml_safe("tab\tnewline\n ok") == "tab\tnewline\n ok"


def test_a_title_with_control_characters_gives_well_formed_xml_everywhere(series: tuple[Path, Store]):  # noqa: F811
    recordings, store = series
    (recordings / "sessions.toml").write_text(
        f'[[session]]\nid = "s-1"\ntitle = "{toml_escaped(HOSTILE_TITLE)}"\nrecording = "s-1.mp4"\n'
        'speakers = [{ name = "Camille\\u0007 Durand", role = "Modératrice" }]\n',
        encoding="utf-8",
    )
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root)]
    assert main(["run", *arguments, *LATER, "--only", "publish", "--only", "archive"]) == 0
    site = store.root / "site"
    feed = ET.parse(site / "feed.xml").getroot()
    assert "Sobriété et données" in ET.tostring(feed, encoding="unicode")
    ET.parse(site / "coverage.svg")
    dc = ET.parse(store.root / "archive" / "s-1" / "data" / "dc.xml").getroot()
    assert "Sobriété et données" in ET.tostring(dc, encoding="unicode")
    assert "\u0001" not in store.read_text("s-1", Names.SYNTHESIS)
    assert "Sobriété et données" in (site / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")


def test_an_unclosed_element_in_a_synthesis_never_hides_the_rest():
    for opening in ("<style>", "<noscript>", "<textarea>", "<title>", "<script>"):
        html = render_markdown(f"Intro\n\n{opening}p {{ color: red }}\n\nSuite du texte.\n\n## Fin\n\nDernier paragraphe.")
        assert "Suite du texte." in html and "Dernier paragraphe." in html, opening
        assert opening not in html, "shown as text, never interpreted"
