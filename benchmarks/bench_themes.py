"""``make bench-themes``: how the theme model files keywords and sessions, on what can be
measured here.

There is no labelled set of French passages per theme that this project may copy (see the
README), so theme top-1 / top-2 on passages is not measured. The bench prints instead, in
one run:

- the labelled word list ``benchmarks/theme_lexicon.toml`` (one developer's labels, written
  before the run): words right / wrong / without a theme, and off-topic words given one;
- the 50 WikiNews-fr dev articles (``../shared/data/keyphrase-fr``, real French news, none
  about cities and digital policy), each fed as a one-speaker transcript: how many get a
  theme the draft would list (coverage >= 10 %), and which;
- the 8 real-speech dev files of ``bench_speakers`` as Whisper heard them (read aloud
  stories and a phone-system manual: off topic), when its cache holds them;
- two on-topic texts (the test fixture, the bundled sample's script): their themes by
  coverage.

    python benchmarks/bench_themes.py [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "keyphrase-fr" / "wikinews-fr-dev"
sys.path.insert(0, str(ROOT))

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.catalogue import load_themes, parse_toml_text  # noqa: E402
from pipeline.keywords import ThemeModel, analyse, extract_keywords, lemma_of, load_nlp, term_index  # noqa: E402
from pipeline.synthesis import MIN_COVERAGE  # noqa: E402
from pipeline.transcript import Segment, Transcript, Word  # noqa: E402


def as_transcript(base: Transcript, session_id: str, lines: list[str]) -> Transcript:
    """Lines of text as a one-speaker transcript, 4 s a line, words evenly spaced."""
    segments = []
    for index, text in enumerate(lines):
        start, tokens = index * 4.0, text.split()
        step = 3.5 / max(len(tokens), 1)
        words = tuple(Word(start + i * step, start + (i + 1) * step, " " + token, 0.9) for i, token in enumerate(tokens))
        segments.append(Segment(index, start, start + 3.5, text, words, -0.2))
    return replace(base, session_id=session_id, segments=tuple(segments), duration=4.0 * len(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    nlp = load_nlp()
    themes = load_themes(ROOT / "recordings" / "themes.toml")
    model = ThemeModel.build(nlp, themes)
    ids = {t.id for t in themes if t.kind == "theme"}
    terms = term_index(themes)
    from pipeline.keywords import KeywordOptions

    options = KeywordOptions()

    def themes_of(phrase: str) -> list[str]:
        lemma = " ".join(lemma_of(t) for t in nlp(phrase))
        return [t for t in model.assign(nlp, lemma, options.theme_similarity, options.theme_margin, surface=phrase) if t in ids]

    lexicon_path = ROOT / "benchmarks" / "theme_lexicon.toml"
    lexicon = parse_toml_text(lexicon_path.read_text(encoding="utf-8"), lexicon_path)
    right = wrong = none = 0
    for theme_id, words in lexicon["on_topic"].items():
        for word in words:
            got = themes_of(word)
            right += got == [theme_id]
            wrong += bool(got) and got != [theme_id]
            none += not got
    print(f"word list, on topic ({right + wrong + none} words): right {right}, wrong {wrong}, no theme {none}")
    for kind, words in lexicon["off_topic"].items():
        given = [w for w in words if themes_of(w)]
        print(f"word list, off topic ({kind}, {len(words)} words): given a theme {len(given)} {given}")

    base = transcript_io.load(ROOT / "tests" / "fixtures" / "transcript-sobriete-gouvernance.json")

    def covered(transcript: Transcript, title: str) -> list[tuple[str, float]]:
        found = extract_keywords(transcript, analyse(transcript, nlp, terms=terms), nlp, model, title)
        shares = sorted(((t.coverage, t.theme_id) for t in found.themes if t.theme_id in ids), reverse=True)
        return [(theme_id, share) for share, theme_id in shares if share >= MIN_COVERAGE]

    if (args.data / "docs").is_dir():
        tagged: Counter[str] = Counter()
        articles = sorted((args.data / "docs").glob("*.txt"))
        with_tag = 0
        for path in articles:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            shown = covered(as_transcript(base, path.stem, lines), lines[0])
            with_tag += bool(shown)
            tagged.update(theme_id for theme_id, _ in shown)
        print(
            f"WikiNews articles (off topic): {with_tag} of {len(articles)} get a theme in their draft;"
            f" {sum(tagged.values())} theme tags in all: {dict(sorted(tagged.items()))}"
        )
    else:
        print(f"WikiNews articles: skipped, {args.data} is absent")
    heard = sorted((ROOT / "benchmarks" / ".data" / "asr").glob("*.json"))
    if heard:
        shown = {path.stem: covered(transcript_io.load(path), "") for path in heard}
        tagged_files = {name: themes for name, themes in shown.items() if themes}
        print(
            f"real speech off topic ({len(heard)} dev files as Whisper heard them, cached by bench_speakers):"
            f" {len(tagged_files)} get a theme in their draft {tagged_files}"
        )
    else:
        print("real speech: skipped, run `make bench-speakers` first to transcribe the dev files")
    script = (ROOT / "recordings" / "2022-03-17-sobriete.txt").read_text(encoding="utf-8").splitlines()
    sample = [line.split("|", 1)[-1] for line in script if line.strip() and not line.startswith("#")]
    for name, transcript, title in (
        ("test fixture", base, "Sobriété numérique et gouvernance des données"),
        ("bundled sample's script", as_transcript(base, "sample", sample), "Sobriété, matérialité et infrastructures"),
    ):
        print(f"{name}: " + ", ".join(f"{theme_id} {share:.0%}" for theme_id, share in covered(transcript, title)))


if __name__ == "__main__":
    main()
