"""``make bench-publish``: ``pipeline publish`` over 100 generated sessions.

Each generated session has a one-hour transcript (900 segments, as batched Whisper gives
for an hour of talk), its keywords and its synthesis, made from the committed fixture's
sentences. Prints the publish wall time (target: <= 5 s on 2 cores) beside the time to
just read and parse the same inputs, measured in the same run.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import keywords as keywords_io  # noqa: E402
from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.catalogue import Catalogue, Session, load_themes  # noqa: E402
from pipeline.keywords import ThemeModel, analyse, extract_keywords, load_nlp  # noqa: E402
from pipeline.site.publish import SEARCH_FOLDER, publish  # noqa: E402
from pipeline.store import Store, atomic_write  # noqa: E402
from pipeline.subtitles import to_srt, to_txt, to_vtt  # noqa: E402
from pipeline.synthesis import synthesize  # noqa: E402
from pipeline.transcript import Segment, Word  # noqa: E402

SESSIONS = 100
SEGMENTS = 900


def one_hour(base: transcript_io.Transcript, session_id: str) -> transcript_io.Transcript:
    segments = []
    for index in range(SEGMENTS):
        source = base.segments[index % len(base.segments)]
        offset = index * 4.0
        words = tuple(Word(w.start - source.start + offset, w.end - source.start + offset, w.word, w.probability) for w in source.words)
        segments.append(Segment(index, offset, offset + source.end - source.start, source.text, words, source.avg_logprob))
    return replace(base, session_id=session_id, segments=tuple(segments), duration=SEGMENTS * 4.0)


def main() -> None:
    themes = load_themes(ROOT / "recordings" / "themes.toml")
    nlp = load_nlp()
    base = transcript_io.load(ROOT / "tests" / "fixtures" / "transcript-sobriete-gouvernance.json")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "outputs")
        sessions = []
        template = one_hour(base, "template")
        found = extract_keywords(template, analyse(template, nlp), nlp, ThemeModel.build(nlp, themes), "Séance")
        for n in range(SESSIONS):
            session = Session(
                id=f"2023-{n // 28 + 1:02d}-{n % 28 + 1:02d}-seance-{n}",
                title=f"Séance {n} : sobriété et données",
                recording="",
                number=n,
                date=f"2023-{n // 28 + 1:02d}-{n % 28 + 1:02d}",
                themes=("sobriete",),
            )
            transcript = replace(template, session_id=session.id)
            files = {
                "transcript.json": transcript_io.dumps(transcript),
                "transcript.vtt": to_vtt(transcript),
                "transcript.srt": to_srt(transcript),
                "transcript.txt": to_txt(transcript),
                "keywords.json": keywords_io.dumps(found),
                "keywords.md": "",
                "synthesis.md": synthesize(transcript, found, session, themes).markdown,
            }
            for name, text in files.items():
                atomic_write(store.path(session.id, name), text.encode())
            sessions.append(session)
        catalogue = Catalogue(sessions=tuple(sessions), themes=themes)
        words = sum(len(s.text.split()) for s in template.segments) * SESSIONS
        started = time.perf_counter()
        for session in sessions:
            transcript_io.load(store.path(session.id, "transcript.json"))
            keywords_io.loads(store.path(session.id, "keywords.json").read_text(encoding="utf-8"))
        reading = time.perf_counter() - started
        started = time.perf_counter()
        site = publish(store, catalogue)[0]
        wall = time.perf_counter() - started
        pages = len(list(site.rglob("*.html")))
        print(f"{SESSIONS} sessions of {SEGMENTS} segments ({words:,} words in all), {pages} pages written")
        print(f"reading and parsing the inputs alone: {reading:.2f} s")
        print(f"pipeline publish: {wall:.2f} s (target <= 5 s); ratio to reading alone: {wall / reading:.1f}")
        first_result_bytes(site)
        session_page_weight(site)


def first_result_bytes(site: Path) -> None:
    """What a reader's browser loads before the first result shows, for the heaviest word of
    the index (the page, its script, the manifest, the word's shard and one text part)."""
    folder = site / SEARCH_FOLDER
    fixed = sum((site / name).stat().st_size for name in ("search.html", "assets/search.js", "assets/style.css"))
    fixed += (folder / "manifest.js").stat().st_size
    shards = sorted((p.stat().st_size, p.name) for p in folder.glob("t-*.js"))
    texts = max(p.stat().st_size for p in folder.glob("d-*.js"))
    whole = sum(p.stat().st_size for p in folder.iterdir())
    worst = fixed + shards[-1][0] + texts
    print(
        f"search index: {whole / 1e6:.1f} MB in {len(list(folder.iterdir()))} parts; before the first result, at worst "
        f"{worst / 1e3:.0f} KB (page, script and manifest {fixed / 1e3:.0f} KB + largest shard {shards[-1][1]} "
        f"{shards[-1][0] / 1e3:.0f} KB + largest text part {texts / 1e3:.0f} KB; target <= 300 KB)"
    )


def session_page_weight(site: Path) -> None:
    """A one-hour session page as a reader downloads it (HTML, CSS and JS), and what is left
    once its captions are set apart: the transcript list (the captions' text, as the page
    shows it) and captions embedded for the player."""
    page = next((site / "sessions").iterdir()) / "index.html"
    html = page.read_text(encoding="utf-8")
    captions = sum(len(m) for m in re.findall(r'src="(data:text/vtt[^"]*)"', html))
    start = html.index('<ol class="transcript"')
    transcript = len(html[start : html.index("</ol>", start)].encode())
    assets = sum((site / "assets" / name).stat().st_size for name in ("style.css", "player.js"))
    total = len(html.encode()) + assets
    rest = total - captions - transcript
    print(
        f"one-hour session page: {total / 1e3:.0f} KB (CSS + JS {assets / 1e3:.0f} KB, embedded captions {captions / 1e3:.0f} KB, "
        f"transcript list {transcript / 1e3:.0f} KB); the rest {rest / 1e3:.0f} KB (target <= 60 KB)"
    )


if __name__ == "__main__":
    main()
