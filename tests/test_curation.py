"""Editors pin and ban keywords for the series and per session; the next run respects them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.curation import Curation, KeywordCuration, read_curation
from pipeline.errors import CatalogueError
from pipeline.store import Names, Store

from .test_editor_files import LATER, series  # noqa: F401 - the fixture


def surfaces(store: Store, session: str) -> list[str]:
    return [k["surface"] for k in json.loads(store.read_text(session, Names.KEYWORDS))["keywords"]]


def test_the_file_reads_back_and_merges_series_and_session_terms(tmp_path: Path):
    path = tmp_path / "keywords.toml"
    path.write_text('[series]\nban = ["chose"]\n\n[sessions.s-1]\npin = ["capteurs"]\nban = ["chose", "réseaux"]\n', encoding="utf-8")
    curation = read_curation(path)
    assert curation.of("s-1") == Curation(("capteurs",), ("chose", "réseaux"))
    assert curation.of("s-2") == Curation((), ("chose",))
    assert read_curation(tmp_path / "absent.toml") == KeywordCuration()
    for text, expected in (
        ('[series]\nepingler = ["a"]\n', r"line 2: \[series\] has no list 'epingler'"),
        ('[series]\npin = "a"\n', r"line 2: \[series\] pin must be a list of texts"),
        ('[serie]\npin = ["a"]\n', r"line 1: 'serie' is not a table of this file"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CatalogueError, match=expected):
            read_curation(path)


def test_pinned_keywords_come_first_and_banned_ones_never_show(series: tuple[Path, Store]):  # noqa: F811
    recordings, store = series
    before = surfaces(store, "s-1")
    assert "données" in before and len(before) >= 10
    pinned = before[-1]  # the last of the kept keywords
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish"]
    (recordings / "keywords.toml").write_text(
        f'[series]\nban = ["Données"]\n\n[sessions.s-1]\npin = ["{pinned}", "blockchain"]\n', encoding="utf-8"
    )
    assert main(["run", *arguments]) == 0
    first, second = surfaces(store, "s-1"), surfaces(store, "s-2")
    assert first[0] == pinned and second[0] != pinned
    assert not any(re.fullmatch(r"(?i)donn[ée]es?", s) for s in first + second), "banned for the whole series, any case or accent"
    provenance = json.loads(store.read_text("s-1", Names.KEYWORDS))["provenance"]
    assert provenance["curation"]["pinned_not_said"] == ["blockchain"], "a pinned term never said is not invented"
    assert "blockchain" not in store.read_text("s-1", Names.KEYWORDS_MD)
    page = (store.root / "site" / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")
    assert pinned in page
    # removing the file brings the ranking back
    (recordings / "keywords.toml").unlink()
    assert main(["run", *arguments]) == 0
    assert surfaces(store, "s-1") == before
