"""``make bench-themes``: how passages are filed under themes, cross-validated on labelled
passages, beside a standard baseline and the code at the start of the work.

Data: ``../shared/data/themes-fr-dev/passages.jsonl`` (93 French passages: 73 on one of the
six themes, 20 off topic, labelled by reading). Each passage is fed to the product as a
one-speaker transcript (its sentences 4 s apart), as an independent harness would, and the
themes are read from the keywords stage's result, ordered by coverage.

Printed, from one run:

- repeated stratified 5-fold cross-validation (``--repeats``, 10 by default): the filing layer
  (:mod:`pipeline.keywords.filing`) is fitted on four folds and scores the fifth; top-1 and
  top-2 on the on-topic passages, off-topic passages given a theme, on-topic passages given
  the right theme, a wrong one or none, and the calibration error of the top probability;
- the same folds for TF-IDF + logistic regression (scikit-learn defaults, and C = 10);
- the code at the start of the work (``--start``, a git commit, run from a temporary
  worktree on the same passages; nothing is fitted there);
- a reliability table and a sweep of the confidence threshold;
- off-topic real speech (the human reference transcripts of the dev conversations and
  speech files) and the 50 WikiNews dev articles: passages filed under a theme, sessions whose
  draft would list one;
- speed: the theme model's load time and the keywords stage per 10,000 words.

``--fit`` then fits the layer on every passage and writes
``pipeline/keywords/theme_weights.json``.

    python benchmarks/bench_themes.py [--repeats N] [--start COMMIT] [--fit]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(os.environ.get("PIPELINE_ROOT") or Path(__file__).resolve().parent.parent)
HERE = Path(__file__).resolve().parent.parent
SHARED = HERE.parent / "shared" / "data"
PASSAGES = SHARED / "themes-fr-dev" / "passages.jsonl"
START = "89e4943"
"""The commit at the start of the work on issue 21."""
sys.path.insert(0, str(ROOT))

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.catalogue import load_themes  # noqa: E402
from pipeline.keywords import KeywordOptions, ThemeModel, analyse, extract_keywords, load_nlp, term_index  # noqa: E402
from pipeline.transcript import Segment, Transcript, Word  # noqa: E402

FIXTURE = HERE / "tests" / "fixtures" / "transcript-sobriete-gouvernance.json"
SENTENCE = re.compile(r"(?<=[.!?…])\s+")
MIN_COVERAGE = 0.1  # pipeline.synthesis.MIN_COVERAGE, repeated for the start-of-work code


def as_transcript(base: Transcript, session_id: str, lines: list[str]) -> Transcript:
    """Lines of text as a one-speaker transcript, 4 s a line, words evenly spaced."""
    segments = []
    for index, text in enumerate(lines):
        start, tokens = index * 4.0, text.split()
        step = 3.5 / max(len(tokens), 1)
        words = tuple(Word(start + i * step, start + (i + 1) * step, " " + token, 0.9) for i, token in enumerate(tokens))
        segments.append(Segment(index, start, start + 3.5, text, words, -0.2))
    return replace(base, session_id=session_id, segments=tuple(segments), duration=4.0 * len(lines))


def sentences(text: str) -> list[str]:
    """A passage's sentences, one per line of the transcript."""
    return [s.strip() for s in SENTENCE.split(text.replace("\n", " ")) if s.strip()]


def load_passages() -> list[dict[str, object]]:
    return [json.loads(line) for line in PASSAGES.read_text(encoding="utf-8").splitlines() if line.strip()]


def harness(texts: dict[str, str]) -> dict[str, list[list[object]]]:
    """Each text through the product: its themes ordered by coverage, as [id, coverage,
    shown]; works on the code at the start of the work too."""
    nlp = load_nlp()
    themes = load_themes(ROOT / "recordings" / "themes.toml")
    model = ThemeModel.build(nlp, themes)
    ids = {t.id for t in themes if t.kind == "theme"}
    base = transcript_io.load(FIXTURE)
    out = {}
    for key, text in texts.items():
        transcript = as_transcript(base, key, sentences(text))
        found = extract_keywords(transcript, analyse(transcript, nlp, terms=term_index(themes)), nlp, model, "")
        ranked = sorted((t for t in found.themes if t.theme_id in ids), key=lambda t: -t.coverage)
        out[key] = [[t.theme_id, t.coverage, getattr(t, "share", t.coverage) >= MIN_COVERAGE] for t in ranked]
    return out


def start_of_work(commit: str, texts: dict[str, str]) -> dict[str, list[list[object]]] | None:
    """:func:`harness` run on the code of ``commit``, from a temporary git worktree."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "start"
        made = subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(tree), commit], capture_output=True, text=True)
        if made.returncode:
            print(f"start of work: skipped, git worktree failed ({made.stderr.strip()})")
            return None
        try:
            inputs = Path(folder) / "texts.json"
            inputs.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
            env = {**os.environ, "PIPELINE_ROOT": str(tree)}
            run = subprocess.run(
                [sys.executable, __file__, "--harness-only", str(inputs)], env=env, capture_output=True, text=True, check=False
            )
            if run.returncode:
                print(f"start of work: failed ({run.stderr.strip().splitlines()[-1:]})")
                return None
            return json.loads(run.stdout)  # type: ignore[no-any-return]
        finally:
            subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(tree)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--start", default=START, help="the commit to compare with ('' to skip)")
    parser.add_argument("--fit", action="store_true", help="fit the layer on every passage and write the weights file")
    parser.add_argument("--harness-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.harness_only:
        print(json.dumps(harness(json.loads(args.harness_only.read_text(encoding="utf-8")))))
        return
    if not PASSAGES.exists():
        print(f"themes bench: skipped, {PASSAGES} is absent")
        return
    from theme_layer import Report, baseline_probabilities, cross_validate, fit_layer, passage_features, simulated_priors

    rows = load_passages()
    nlp = load_nlp()
    themes = load_themes(ROOT / "recordings" / "themes.toml")
    ids = [t.id for t in themes if t.kind == "theme"]
    started = time.perf_counter()
    model = ThemeModel.build(nlp, themes)
    load_s = time.perf_counter() - started
    labels = [str(r["theme"]) for r in rows]
    texts = [str(r["text"]) for r in rows]
    features = passage_features(nlp, model, texts)
    print(f"themes-fr-dev: {len(rows)} passages, {Counter(labels)}")
    print(f"{args.repeats} x stratified 5-fold cross-validation; every figure is on passages the layer was not fitted on\n")

    product = cross_validate(features, labels, ids, args.repeats, lambda tr_f, tr_y: fit_layer(tr_f, tr_y, ids))
    reports = [Report.of("product (filing layer)", product, labels, ids)]
    factor = KeywordOptions().catalogue_prior
    for right in (0.8, 0.5):
        priors = simulated_priors(labels, ids, factor, right)
        with_prior = cross_validate(features, labels, ids, args.repeats, lambda tr_f, tr_y: fit_layer(tr_f, tr_y, ids), priors)
        reports.append(Report.of(f"  + catalogue prior x{factor:g}, catalogue right {right:.0%}", with_prior, labels, ids))
    for c in (1.0, 10.0):
        reports.append(
            Report.of(f"TF-IDF + logistic regression, C={c:g}", baseline_probabilities(texts, labels, ids, args.repeats, c), labels, ids)
        )
    if args.start:
        old = start_of_work(args.start, {str(r["id"]): str(r["text"]) for r in rows})
        if old is not None:
            reports.append(
                Report.of_rankings(f"code at the start ({args.start}, not fitted)", [old[str(r["id"])] for r in rows], labels, ids)
            )
    print(Report.header())
    for report in reports:
        print(report.line())
    print()
    print(reports[0].reliability())
    print()
    print(reports[0].sweep())
    print()

    # off-topic real speech and news, through the product with the shipped weights
    base = transcript_io.load(FIXTURE)
    extract_keywords(base, analyse(base, nlp, terms=term_index(themes)), nlp, model, "")  # warm: spaCy and wordfreq load tables lazily
    off: dict[str, list[str]] = {}
    for folder in ("conversations-fr-dev", "speech-fr-dev"):
        for path in sorted((SHARED / folder).glob("*.ref.txt")):
            off[f"{folder}/{path.name}"] = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    news = sorted((SHARED / "keyphrase-fr" / "wikinews-fr-dev" / "docs").glob("*.txt"))
    for name, group in (
        ("real speech, off topic (dev reference transcripts)", list(off.items())),
        ("WikiNews dev articles", [(p.stem, [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]) for p in news]),
    ):
        if not group:
            continue
        filed = total = listed = words = 0
        seconds = 0.0
        tagged: Counter[str] = Counter()
        for key, lines in group:
            transcript = as_transcript(base, key.replace("/", "-").replace(".", "-"), lines)
            started = time.perf_counter()
            found = extract_keywords(transcript, analyse(transcript, nlp, terms=term_index(themes)), nlp, model, "")
            seconds += time.perf_counter() - started
            words += sum(len(line.split()) for line in lines)
            total += len(found.passages)
            filed += sum(1 for p in found.passages if p.theme)
            shown = [t.theme_id for t in found.themes if t.theme_id in ids and t.share >= MIN_COVERAGE]
            listed += bool(shown)
            tagged.update(shown)
        print(f"{name}: {filed} of {total} passages filed under a theme; {listed} of {len(group)} drafts would list a theme {dict(tagged)}")
        print(f"  keywords stage (parse, rank, file): {seconds / words * 10000:.2f} s per 10,000 words ({words} words)")
    print(f"theme model load (lexicon, vectors, weights): {load_s:.2f} s")

    if args.fit:
        weights = fit_layer(features, labels, ids)
        weights = replace(weights, fitted_on=f"themes-fr-dev, {len(rows)} passages ({time.strftime('%Y-%m-%d')})")
        path = HERE / "pipeline" / "keywords" / "theme_weights.json"
        path.write_text(weights.to_json(), encoding="utf-8")
        print(f"\nwrote {path.relative_to(HERE)}: density {weights.density:.3f}, count {weights.count:.3f}, bias {dict(weights.bias)}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE / "benchmarks"))
    main()
