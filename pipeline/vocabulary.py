"""The series' vocabulary, applied after decoding: names and terms spelled right.

Whisper base writes « Éric Joannis » for « Éric Joanis » and cannot know a speaker's name.
Priming it with the names (``hotwords``) costs words on long recordings (README,
« Vocabulary »), so the vocabulary never reaches the decoder: it corrects the decoded words.
Three rules, all conservative, every replacement recorded:

- ``spelling``: the term with other accents or capitals (« eric joanis ») becomes the term;
- ``known``: an exact known misrecognition of a term (from the glossary) becomes the term;
- ``close``: a sequence of words whose spelling is close to a name of the catalogue (same
  first letter, similarity at least ``min_similarity``; single words only if long and rare
  in French) becomes that name.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from .catalogue import Session
from .transcript import Correction, Segment, Transcript, Word, glued

VOCABULARY_VERSION = 1


@dataclass(frozen=True)
class Term:
    """A term of the vocabulary: its right spelling, the known misrecognitions of it, and
    whether close spellings may be corrected too (names)."""

    text: str
    variants: tuple[str, ...] = ()
    fuzzy: bool = True


@dataclass(frozen=True)
class VocabularyOptions:
    """How the vocabulary corrects the decoded words."""

    enabled: bool = True
    """Correct names and glossary terms after decoding (nothing is given to Whisper)."""
    min_similarity: float = 0.8
    """Spelling similarity (0-1) above which a multi-word sequence becomes a name."""
    min_similarity_single: float = 0.88
    """The same for a single word (stricter: a single word is more often a real other word)."""
    min_length_single: int = 5
    """Shortest single word that may be corrected to a name."""
    max_common_zipf: float = 3.5
    """A single word more frequent than this in French (Zipf scale) is never replaced."""


def normalise(text: str) -> str:
    """Lower case, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)))


def terms_of(session: Session, extra: Iterable[Term] = ()) -> tuple[Term, ...]:
    """The vocabulary of a session: its speakers' names, then extra terms (the glossary)."""
    names = [Term(s.name) for s in session.speakers if len(normalise(s.name)) >= 4 and " " in s.name.strip()]
    seen, terms = set(), []
    for term in [*names, *extra]:
        key = normalise(term.text)
        if key and key not in seen:
            seen.add(key)
            terms.append(term)
    return tuple(terms)


ZipfFrequency = Callable[[str], float]


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "fr"))


def _split_punctuation(token: str) -> tuple[str, str, str]:
    match = re.match(r"^(\W*)(.*?)(\W*)$", token, flags=re.S)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _join(words: Sequence[Word]) -> str:
    return "".join(w.word for w in words)


def _replacement(words: Sequence[Word], text: str) -> tuple[Word, ...]:
    """``text`` spread over the span of ``words`` (one word per word of the term), keeping the
    leading space and the punctuation around the original words."""
    first, last = words[0], words[-1]
    lead = first.word[: len(first.word) - len(first.word.lstrip())]
    opening, _, _ = _split_punctuation(first.word.strip())
    _, _, closing = _split_punctuation(last.word.strip())
    parts = text.split()
    span = max(last.end - first.start, 0.0)
    probability = min(w.probability for w in words)
    result = []
    for index, part in enumerate(parts):
        start = first.start + span * index / len(parts)
        end = first.start + span * (index + 1) / len(parts)
        token = (lead if index == 0 else " ") + (opening if index == 0 else "") + part + (closing if index == len(parts) - 1 else "")
        result.append(Word(round(start, 3), round(end, 3), token, probability, first.speaker))
    return tuple(result)


def _match(heard: str, term: Term, options: VocabularyOptions, zipf: ZipfFrequency) -> tuple[str, float]:
    """The rule by which ``heard`` (normalised) becomes ``term`` and how close it is, or ("", 0)."""
    target = normalise(term.text)
    if heard == target:
        return "spelling", 1.0
    if any(heard == normalise(v) for v in term.variants):
        return "known", 1.0
    if not term.fuzzy or not heard or heard[0] != target[0]:
        return "", 0.0
    single = len(term.text.split()) == 1
    if single:
        if len(heard) < options.min_length_single or zipf(heard) > options.max_common_zipf:
            return "", 0.0
        threshold = options.min_similarity_single
    else:
        threshold = options.min_similarity
    ratio = difflib.SequenceMatcher(None, heard, target).ratio()
    return ("close", ratio) if ratio >= threshold else ("", 0.0)


def correct_segment(
    segment: Segment, terms: Sequence[Term], options: VocabularyOptions, zipf: ZipfFrequency = _zipf
) -> tuple[Segment, list[Correction]]:
    """One segment with its words corrected, and the corrections made."""
    if not segment.words or not terms:
        return segment, []
    groups = glued(segment.words)
    out: list[Word] = []
    corrections: list[Correction] = []
    index = 0
    while index < len(groups):
        best: tuple[float, int, Term, str] | None = None
        for term in terms:
            length = len(term.text.split())
            for size in (length, max(1, length - 1), length + 1):
                window = groups[index : index + size]
                if len(window) < size:
                    continue
                written = _join([w for group in window for w in group]).strip()
                rule, score = _match(normalise(written), term, options, zipf)
                # the closest match wins; at equal closeness, the term's own length
                if rule and (best is None or score > best[0]):
                    best = (score, size, term, rule)
        if best is None or (
            best[3] == "spelling"
            and _split_punctuation(_join([w for g in groups[index : index + best[1]] for w in g]).strip())[1] == best[2].text
        ):
            step = best[1] if best else 1  # nothing to change here (or already spelled right)
            out.extend(w for group in groups[index : index + step] for w in group)
            index += step
            continue
        _, size, term, rule = best
        pieces = [w for group in groups[index : index + size] for w in group]
        new = _replacement(pieces, term.text)
        heard_text = _join(pieces).strip()
        if heard_text != _join(new).strip():
            corrections.append(Correction(pieces[0].start, pieces[-1].end, heard_text, _join(new).strip(), rule))
        out.extend(new)
        index += size
    if not corrections:
        return segment, []
    return replace(segment, words=tuple(out), text=_join(out).strip()), corrections


def correct(
    transcript: Transcript, terms: Sequence[Term], options: VocabularyOptions | None = None, zipf: ZipfFrequency = _zipf
) -> Transcript:
    """The transcript with its names and terms spelled right; ``corrections`` lists each."""
    options = options or VocabularyOptions()
    if not options.enabled or not terms:
        return transcript
    segments, corrections = [], []
    for segment in transcript.segments:
        fixed, made = correct_segment(segment, terms, options, zipf)
        segments.append(fixed)
        corrections += made
    return replace(transcript, segments=tuple(segments), corrections=(*transcript.corrections, *corrections))
