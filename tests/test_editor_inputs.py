"""Editors' files that used to be read without a word, or lost a paragraph: each is now one line
with the file, the line and the fix — a warning when the run goes on, an error when that
session's stage refuses the file — and nothing an editor wrote is dropped or doubled silently."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipeline import transcript as transcript_io
from pipeline.cli import main
from pipeline.store import Names, Store

from .test_editor_files import LATER, series  # noqa: F401 - the fixture
from .test_edits_compose import run, voiced  # noqa: F401 - the fixture


def warnings_of(err: str) -> list[str]:
    assert "Traceback" not in err
    return [" ".join(line.split()) for line in err.splitlines() if "line " in line or "MB" in line or "empty" in line]


def words(store: Store, session_id: str = "s-1") -> int:
    return sum(len(s.text.split()) for s in transcript_io.load(store.path(session_id, Names.TRANSCRIPT)).segments)


def edit(store: Store, name: str, change, session_id: str = "s-1") -> Path:
    path = store.path(session_id, name)
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def rerun(recordings: Path, store: Store, *extra: str) -> int:
    return main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER, *extra])


def test_a_deleted_stamp_keeps_its_paragraph_and_says_where(series, capsys):  # noqa: F811
    recordings, store = series
    before = words(store)
    path = edit(store, Names.TRANSCRIPT_TXT, lambda t: re.sub(r"(?m)^\[00:00:4\d\] ", "", t, count=1))
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if row.startswith("Et la gouvernance"))
    capsys.readouterr()
    assert rerun(recordings, store) == 0
    assert words(store) == before, "the paragraph is kept where it stands"
    [warning] = [w for w in warnings_of(capsys.readouterr().err) if "no stamp" in w]
    assert f"{path}: line {line}: this paragraph has no stamp" in warning and "put its time back" in warning


def test_a_mistyped_stamp_is_one_line_with_its_line_and_the_other_session_goes_on(series, capsys):  # noqa: F811
    recordings, store = series
    path = edit(store, Names.TRANSCRIPT_TXT, lambda t: re.sub(r"(?m)^\[00:00:4(\d)\]", r"[00:99:9\1]", t, count=1))
    edit(store, Names.TRANSCRIPT_TXT, lambda t: t.replace("floue", "très floue"), "s-2")
    capsys.readouterr()
    assert rerun(recordings, store) == 1
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(path))}: line \d+: \[00:99:9\d\] is not a time \[hh:mm:ss\].*\(write the paragraph's time", err)
    assert "très floue" in store.read_text("s-2", Names.TRANSCRIPT_VTT)


def test_a_paragraph_pasted_twice_is_said_with_both_lines(series, capsys):  # noqa: F811
    recordings, store = series
    lines = store.read_text("s-1", Names.TRANSCRIPT_TXT).splitlines()
    index = next(i for i, row in enumerate(lines) if row.startswith("[00:00:4"))
    lines[index + 1 : index + 1] = ["", lines[index]]
    store.path("s-1", Names.TRANSCRIPT_TXT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert rerun(recordings, store) == 0
    [warning] = [w for w in warnings_of(capsys.readouterr().err) if "twice" in w]
    assert f"lines {index + 1} and {index + 3} hold the same paragraph twice in a row (delete one of them)" in warning


def test_a_huge_paste_is_refused_at_once_and_the_next_session_runs(series, capsys):  # noqa: F811
    recordings, store = series
    path = edit(store, Names.TRANSCRIPT_TXT, lambda t: t + ("[00:01:40] " + "bla " * 250 + "\n\n") * 5000)
    edit(store, Names.TRANSCRIPT_TXT, lambda t: t.replace("floue", "très floue"), "s-2")
    assert path.stat().st_size > 5e6
    capsys.readouterr()
    assert rerun(recordings, store) == 1
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(path))}: is \d+\.\d MB, more than any session's transcript .*\(undo the paste", err)
    assert "très floue" in store.read_text("s-2", Names.TRANSCRIPT_VTT)


def test_files_read_without_a_word_now_get_one(voiced, capsys):  # noqa: F811
    recordings, store = voiced
    edit(store, Names.SPEAKER_NAMES, lambda t: t + 'SPEAKER_9 = "Personne"\n')
    edit(store, Names.SYNTHESIS, lambda t: "")
    (recordings / "keywords.toml").write_text('[sessions.s-9]\nban = ["données"]\n', encoding="utf-8")
    capsys.readouterr()
    assert run(recordings, store) == 0
    err = " ".join(warnings_of(capsys.readouterr().err))
    assert re.search(r"speakers\.toml: line \d+: SPEAKER_9 is not a voice of this session, it is ignored \(use one of: SPEAKER_1", err)
    assert "synthesis.md: is empty: the session's page will show no synthesis (undo the edit" in err
    assert "keywords.toml: line 1: [sessions.s-9] is not a session of this series, it is ignored (use a session id: s-1)" in err


def test_out_of_range_settings_and_oversized_catalogues_are_refused(tmp_path: Path, capsys):
    (tmp_path / "pipeline.toml").write_text("[vocabulary]\nmin_similarity = 2.5\n", encoding="utf-8")
    assert main(["status", "--recordings", str(tmp_path), "--outputs", str(tmp_path / "out")]) == 2
    assert "pipeline.toml: line 2: [vocabulary] min_similarity = 2.5 is above 1 (write a value from 0 to 1" in capsys.readouterr().err
    (tmp_path / "pipeline.toml").unlink()
    (tmp_path / "glossary.toml").write_text('[[term]]\ntext = "x"\n' + "# " + "x" * 15_000_000 + "\n", encoding="utf-8")
    assert main(["status", "--recordings", str(tmp_path), "--outputs", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "glossary.toml: is 15.0 MB, more than such a file holds (1 MB at most): it is not read" in err and "Traceback" not in err


CONTROL = "\x07\x1b[31m\x00"


def test_control_characters_never_reach_captions_search_or_bags(voiced):  # noqa: F811
    recordings, store = voiced
    escaped = "\\u0007\\u001b"  # TOML holds control characters only as escapes
    edit(store, Names.SPEAKER_NAMES, lambda t: t.replace('SPEAKER_2 = "Intervenant 2"', f'SPEAKER_2 = "Inès{escaped} Martin"'))
    edit(store, Names.TRANSCRIPT_TXT, lambda t: t.replace("floue", f"floue{CONTROL}"))
    assert run(recordings, store) == 0
    outputs = [store.path("s-1", n) for n in (Names.TRANSCRIPT, Names.TRANSCRIPT_VTT, Names.TRANSCRIPT_SRT)]
    outputs += [p for p in (store.site_dir / "assets" / "search").rglob("*.js")]
    outputs += [p for p in store.archive_dir.rglob("*") if p.is_file() and p.suffix in {".json", ".xml", ".txt", ".vtt", ".srt"}]
    for path in outputs:
        text = path.read_text(encoding="utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text), path
    assert "Inès Martin" in store.read_text("s-1", Names.TRANSCRIPT_VTT)


def test_a_killed_publish_leaves_no_temporary_behind(series):  # noqa: F811
    recordings, store = series
    leftover = store.root / f".{Names.SERIES_STATE}.abc123.tmp"
    leftover.write_text("{", encoding="utf-8")
    assert rerun(recordings, store) == 0
    assert not leftover.exists()


def test_the_editors_own_prose_is_searchable_and_links_to_its_moment(series):  # noqa: F811
    recordings, store = series
    edit(
        store,
        Names.SYNTHESIS,
        lambda t: t.replace("## Chapitres", "## Notre lecture\n\nUne phrase serendipiteuse [01:00](#t=60).\n\n## Chapitres"),
    )
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish"]) == 0
    texts = " ".join(p.read_text(encoding="utf-8") for p in (store.site_dir / "assets" / "search").glob("d-*.js"))
    found = re.search(r'\[\d+,"synthèse","01:00",60,"Une phrase serendipiteuse\."\]', texts)
    assert found, "indexed with its moment"


def test_an_unclosed_element_never_hides_the_rest_of_the_synthesis(series):  # noqa: F811
    recordings, store = series
    edit(store, Names.SYNTHESIS, lambda t: t.replace("## Chapitres", "Avant <math>x<mi><style>y\n\n## Chapitres", 1))
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish"]) == 0
    page = (store.site_dir / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")
    assert "&lt;style&gt;y" in page and "Citations" in page.split("&lt;style&gt;y", 1)[1]


def test_verify_is_quiet_after_warnings(voiced):  # noqa: F811
    from pipeline.archive import verify

    recordings, store = voiced
    edit(store, Names.SPEAKER_NAMES, lambda t: t + 'SPEAKER_9 = "Personne"\n')
    assert run(recordings, store) == 0
    assert verify(store) == []
    assert json.loads(store.read_text("s-1", Names.TRANSCRIPT))["speakers"]
    assert os.path.exists(store.path("s-1", Names.SPEAKER_NAMES))
