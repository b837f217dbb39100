"""A synthesis is published only when an editor says so: a checked status vocabulary, drafts
marked wherever they appear or kept off the site, and a footer that claims no review."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.site.publish import read_search_index
from pipeline.store import Names, Store
from pipeline.synthesis import editorial_status, read_synthesis

from .test_editor_files import LATER, NO_SPEAKERS, series  # noqa: F401 - the fixture


@pytest.mark.parametrize(
    ("value", "status"),
    [(None, "draft"), ("", "draft"), ("Draft", "draft"), ("brouillon", "draft"), ("En relecture", "review"), ("review", "review"),
     ("publié", "published"), ("Publiée", "published"), ("PUBLISHED", "published"), ("relu", "published")],
)  # fmt: skip
def test_status_words_in_english_and_french(value: str | None, status: str):
    assert editorial_status(value) == status


def test_an_unknown_status_is_one_line_with_its_line():
    with pytest.raises(
        PipelineError, match=r"synthesis.md: line 3: status: 'finished' is not an editorial status.*draft, review or published"
    ):
        read_synthesis("---\ntitle: T\nstatus: finished\n---\nTexte\n", "synthesis.md")


def set_status(store: Store, session: str, status: str) -> None:
    path = store.path(session, Names.SYNTHESIS)
    path.write_text(re.sub(r"(?m)^status: .*$", f"status: {status}", path.read_text(encoding="utf-8")), encoding="utf-8")


def site_text(store: Store) -> dict[str, str]:
    site = store.root / "site"
    return {str(p.relative_to(site)): p.read_text(encoding="utf-8") for p in site.rglob("*") if p.suffix in {".html", ".xml", ".js"}}


def test_drafts_are_marked_everywhere_or_kept_off_the_site(series: tuple[Path, Store], capsys: pytest.CaptureFixture[str]):  # noqa: F811
    recordings, store = series
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root)]
    set_status(store, "s-1", "Publié")
    set_status(store, "s-2", "en relecture")
    assert main(["run", *arguments, "--only", "publish"]) == 0
    text = site_text(store)
    index = text["index.html"]
    card = {s: index[index.index(f"sessions/{s}/index.html") :][:400] for s in ("s-1", "s-2")}
    assert "En relecture, non validé" in card["s-2"] and "non validé" not in card["s-1"] and "Brouillon" not in card["s-1"]
    assert "En relecture, non validé" in text["sessions/s-2/index.html"] and "non validé" not in text["sessions/s-1/index.html"]
    theme_pages = [t for name, t in text.items() if name.startswith("themes/") and "sessions/s-2/" in t]
    assert theme_pages and all("En relecture, non validé" in t for t in theme_pages)
    search = read_search_index(store.root / "site")
    assert {e["title"].endswith("(en relecture, non validé)") for e in search if "s-2" in e["url"]} == {True}
    assert not any("non validé" in e["title"] for e in search if "s-1" in e["url"])
    assert "(en relecture, non validé)</title>" in text["feed.xml"]
    assert not any("relues par l'équipe éditoriale" in t for t in text.values()), "no page claims a review that did not happen"

    capsys.readouterr()
    assert main(["status", *arguments]) == 0
    out = capsys.readouterr().err
    assert "synthesis: publiée (published), edited" in out and "synthesis: en relecture (review), edited" in out

    (recordings / "pipeline.toml").write_text(NO_SPEAKERS + '[publish]\ndrafts = "hide"\n', encoding="utf-8")
    assert main(["run", *arguments, "--only", "publish"]) == 0
    assert "s-2: publish held back" in capsys.readouterr().err
    text = site_text(store)
    assert not (store.root / "site" / "sessions" / "s-2").exists()
    assert not any("s-2" in t for t in text.values()), [n for n, t in text.items() if "s-2" in t]
    assert "sessions/s-1/index.html" in text["index.html"]

    (recordings / "pipeline.toml").write_text(NO_SPEAKERS + '[publish]\ndrafts = "cacher"\n', encoding="utf-8")
    assert main(["status", *arguments]) == 2
    assert "pipeline.toml: line 3: [publish]: drafts = 'cacher' is neither" in " ".join(capsys.readouterr().err.split())


def test_a_synthesis_with_an_unknown_status_is_left_out_and_the_others_published(
    series: tuple[Path, Store],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
):
    recordings, store = series
    set_status(store, "s-1", "finished")
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), "--only", "publish"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "status: 'finished' is not an editorial status" in err and "Traceback" not in err
    assert (store.root / "site" / "sessions" / "s-2" / "index.html").exists()
    assert not (store.root / "site" / "sessions" / "s-1").exists()


def test_a_sitemap_lists_every_page_when_the_site_knows_its_address(series: tuple[Path, Store]):  # noqa: F811
    import xml.etree.ElementTree as ET

    recordings, store = series
    assert (
        main(["publish", "--recordings", str(recordings), "--outputs", str(store.root), "--base-url", "https://villes.example.org/"]) == 0
    )
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [u.text for u in ET.parse(store.root / "site" / "sitemap.xml").getroot().findall("s:url/s:loc", ns)]
    assert "https://villes.example.org/sessions/s-1/index.html" in urls and "https://villes.example.org/index.html" in urls
    assert "https://villes.example.org/404.html" not in urls, "the page for a wrong address is no page to index"
    not_found = (store.root / "site" / "404.html").read_text(encoding="utf-8")
    assert 'href="https://villes.example.org/index.html"' in not_found, "served at any depth: absolute links"
