"""Draft syntheses an editor finishes in minutes.

Nothing is invented: every sentence of the draft is a sentence of the transcript, quoted
verbatim with a ``[mm:ss]`` link to its moment in the replay (``#t=SECONDS``, which the
published page turns into a seek of the player). The editor deletes and rewords; the
pipeline never overwrites their version (see :mod:`pipeline.store`).

The stage is :func:`synthesize`; it writes no file.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import yaml

from . import __version__
from .catalogue import Session, Theme
from .errors import PipelineError, shown
from .keywords import SessionKeywords, ThemeKeywords
from .sentences import Sentence, sentences_of
from .store import Names
from .subtitles import short_clock
from .text import date_label, duration_label
from .transcript import Transcript

SYNTHESIS_VERSION = 4
"""Bumped when the draft changes for the same inputs."""

MIN_COVERAGE = 0.1
"""A theme said in less than a tenth of the session is not one the session covered."""
MAX_THEME_TAGS = 3
"""Theme tags of a session: the catalogue's, completed by the most covered themes up to three."""
GREETINGS = ("bonjour", "bonsoir", "merci", "bienvenue", "au revoir", "à bientôt")


@dataclass(frozen=True)
class SynthesisOptions:
    """How the draft is assembled."""

    brief_min: int = 3
    """Fewest sentences in « En bref »."""
    brief_max: int = 6
    """Most sentences in « En bref » (about one per 10 minutes of session)."""
    passages_per_theme: int = 3
    """Key passages quoted under each theme."""
    keywords_per_theme: int = 8
    """Keywords listed under each theme."""
    quotes: int = 3
    """Verbatim quotes in « Citations »."""
    chapter_seconds: float = 300.0
    """Typical chapter length; chapters are at least a fifth of it."""
    min_words: int = 8
    """Shortest sentence worth quoting."""
    max_words: int = 45
    """Longest sentence worth quoting."""


@dataclass(frozen=True)
class Scored:
    """A transcript sentence with what the draft needs to choose it."""

    index: int
    unit: Sentence
    words: int
    keywords: tuple[str, ...]
    themes: frozenset[str]
    centrality: float
    confidence: float


@dataclass(frozen=True)
class Chapter:
    """A stretch of the session on one topic."""

    start: float
    title: str


@dataclass(frozen=True)
class Synthesis:
    """The draft: its front matter and the whole Markdown text (front matter included)."""

    session_id: str
    front_matter: Mapping[str, Any]
    markdown: str


def french_typography(text: str) -> str:
    """Non-breaking spaces where French typography wants them: a narrow one before ; ! ?
    and % and a normal one before : and inside « », replacing ordinary spaces there. For
    plain text (HTML goes through :func:`pipeline.site.publish.typeset`)."""
    text = re.sub(r"(?<=\S)[ \t]*([;!?])", "\u202f\\1", text)
    text = re.sub(r"(?<=\d) %", "\u202f%", text)
    text = re.sub(r"[ \t]+:", "\u00a0:", text)
    text = re.sub(r"«[ \t]*", "«\u00a0", text)
    text = re.sub(r"[ \t]*»", "\u00a0»", text)
    return text


def _link(seconds: float) -> str:
    """A stamp that links to that moment of the replay."""
    return f"[{short_clock(seconds)}](#t={int(seconds)})"


def _markdown_text(text: str) -> str:
    """Transcript text made inert for Markdown (no markup, no HTML). Plain spaces only: the
    site sets the no-break spaces of French typography when it renders, so that an
    editor's find-and-replace in the draft finds what it looks for."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()


def scored_sentences(
    transcript: Transcript, keywords: SessionKeywords, themes: Sequence[Theme], units: Sequence[Sentence] | None = None
) -> list[Scored]:
    """Every sentence with the keywords said in it, their themes, centrality and confidence."""
    theme_kind = {t.id: t.kind for t in themes}
    units = units if units is not None else sentences_of(transcript)
    in_unit: dict[int, list[str]] = {}
    by_lemma = {k.lemma: k for k in keywords.keywords}
    for keyword in keywords.keywords:
        for occurrence in keyword.occurrences:
            in_unit.setdefault(occurrence.sentence, []).append(keyword.lemma)
    top = max((k.score for k in keywords.keywords), default=1.0) or 1.0
    # Words in time order, searched by bisection: a sentence's words without a full scan.
    words_in_order = sorted((w for s in transcript.segments for w in s.words), key=lambda w: w.start)
    starts = [w.start for w in words_in_order]
    sentences: list[Scored] = []
    for index, unit in enumerate(units):
        lemmas = tuple(dict.fromkeys(in_unit.get(unit.index, [])))
        length = len(unit.text.split())
        centrality = sum(by_lemma[lemma].score / top for lemma in lemmas) / (1.0 + math.log(max(length, 1)))
        # Words starting in [start, end), and those starting exactly at ``start`` (zero-length units).
        first = bisect.bisect_left(starts, unit.start)
        words = words_in_order[first : max(bisect.bisect_left(starts, unit.end), bisect.bisect_right(starts, unit.start))]
        confidence = sum(w.probability for w in words) / len(words) if words else 0.0
        sentence_themes = frozenset(t for lemma in lemmas for t in by_lemma[lemma].themes if theme_kind.get(t) == "theme")
        sentences.append(Scored(index, unit, length, lemmas, sentence_themes, centrality, confidence))
    return sentences


LEADING_FILLERS = re.compile(r"^(?:(?:euh|heu|hum|ben|bah|bon|alors|donc|voila|et|oui|ok)\b[\s,.]*)+")


def _quotable(sentence: Scored, options: SynthesisOptions) -> bool:
    """Long enough, short enough, about something, and not a greeting or a thank-you."""
    if not options.min_words <= sentence.words <= options.max_words or not sentence.keywords:
        return False
    opening = LEADING_FILLERS.sub("", _normalised(sentence.unit.text))
    return not opening.startswith(tuple(_normalised(g) for g in GREETINGS))


def choose_brief(sentences: Sequence[Scored], duration: float, options: SynthesisOptions) -> list[Scored]:
    """Central sentences that together cover the most themes (greedy, diversity-aware)."""
    wanted = max(options.brief_min, min(options.brief_max, round(duration / 600)))
    pool = [s for s in sentences if _quotable(s, options)]
    chosen: list[Scored] = []
    covered: set[str] = set()
    said: set[str] = set()
    while pool and len(chosen) < wanted:
        best = max(pool, key=lambda s: (_gain(s, covered, said), -s.index))
        chosen.append(best)
        covered |= best.themes
        said |= set(best.keywords)
        pool.remove(best)
    return sorted(chosen, key=lambda s: s.index)


def _gain(sentence: Scored, covered: set[str], said: set[str]) -> float:
    """Centrality, raised by themes not covered yet, lowered by keywords already said."""
    new_themes = len(sentence.themes - covered)
    repeated = len(set(sentence.keywords) & said) / max(len(sentence.keywords), 1)
    return sentence.centrality * (1.0 + 0.5 * new_themes) * (1.0 - 0.5 * repeated)


def chapters_of(sentences: Sequence[Scored], keywords: SessionKeywords, duration: float, options: SynthesisOptions) -> list[Chapter]:
    """Topic chapters by lexical cohesion (TextTiling): cut where the words of the sentences
    before and after a gap differ most, about one chapter per ``chapter_seconds``."""
    if not sentences:
        return []
    bags = [_bag(s.unit.text) for s in sentences]
    window = 3
    gaps = []
    for gap in range(1, len(sentences)):
        before = _sum_bags(bags[max(0, gap - window) : gap])
        after = _sum_bags(bags[gap : gap + window])
        gaps.append((_cosine(before, after), gap))
    wanted = max(1, min(12, round(duration / options.chapter_seconds)))
    shortest = options.chapter_seconds / 5
    cuts: list[int] = []
    for _, gap in sorted(gaps):
        if len(cuts) + 1 >= wanted:
            break
        start = sentences[gap].unit.start
        edges = [0.0, *(sentences[c].unit.start for c in cuts), duration]
        if all(abs(start - edge) >= shortest for edge in edges):
            cuts.append(gap)
    bounds = [0, *sorted(cuts), len(sentences)]
    by_lemma = {k.lemma: k for k in keywords.keywords}
    chapters = []
    for begin, end in pairwise(bounds):
        part = sentences[begin:end]
        counts: dict[str, int] = {}
        for sentence in part:
            for lemma in sentence.keywords:
                counts[lemma] = counts.get(lemma, 0) + 1
        if counts:
            lemma = max(counts, key=lambda k: (counts[k] * by_lemma[k].score, k))
            surface = by_lemma[lemma].surface
            title = surface[:1].upper() + surface[1:]
        else:
            title = " ".join(part[0].unit.text.split()[:6]) + "…"
        chapters.append(Chapter(start=part[0].unit.start, title=title))
    return chapters


def _bag(text: str) -> dict[str, int]:
    bag: dict[str, int] = {}
    for word in re.findall(r"\w+", _normalised(text)):
        if len(word) > 3:
            stem = word[:6]
            bag[stem] = bag.get(stem, 0) + 1
    return bag


def _sum_bags(bags: Sequence[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for bag in bags:
        for key, count in bag.items():
            total[key] = total.get(key, 0) + count
    return total


def _cosine(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def choose_quotes(sentences: Sequence[Scored], exclude: Sequence[Scored], options: SynthesisOptions) -> list[Scored]:
    """Verbatim quotes: quotable sentences Whisper was most sure of, not already in « En bref »."""
    taken = {s.index for s in exclude}
    pool = [s for s in sentences if _quotable(s, options) and s.index not in taken and s.words >= 12 and not s.unit.text.endswith("?")]
    ranked = sorted(pool, key=lambda s: (-(s.centrality * (0.5 + s.confidence)), s.index))
    return sorted(ranked[: options.quotes], key=lambda s: s.index)


def shown_themes(keywords: SessionKeywords, themes: Sequence[Theme]) -> list[ThemeKeywords]:
    """The themes a reader is shown for a session: those whose filed passages make at least
    :data:`MIN_COVERAGE` of its speech time, most filed first (axes are never shown)."""
    kinds = {t.id: t.kind for t in themes}
    return sorted(
        (t for t in keywords.themes if t.share >= MIN_COVERAGE and kinds.get(t.theme_id) == "theme"),
        key=lambda t: (-t.share, -t.coverage),
    )


def _front_matter(
    transcript: Transcript,
    keywords: SessionKeywords,
    session: Session,
    themes: Sequence[Theme],
    transcript_sha256: str,
    keywords_sha256: str,
) -> dict[str, Any]:
    covered = [t.theme_id for t in shown_themes(keywords, themes)]
    prov = transcript.provenance
    return {
        "title": session.title,
        "session": session.number,
        "date": session.date,
        # the catalogue's themes, then the most covered others, at most MAX_THEME_TAGS in all:
        # a tag that every session carries tells a reader nothing
        "themes": list(dict.fromkeys([*session.themes, *covered]))[: max(MAX_THEME_TAGS, len(session.themes))],
        "speakers": [{"name": s.name, "role": s.role} for s in session.speakers],
        "duration": short_clock(transcript.duration),
        "replay_url": session.replay_url,
        "status": "draft",
        "generator": f"villes-numeriques-pipeline {__version__}",
        "versions": {
            "whisper_model": prov.model.id,
            "faster_whisper": prov.faster_whisper_version,
            "spacy_model": keywords.provenance.get("spacy_model", ""),
        },
        "transcript_sha256": transcript_sha256,
        "keywords_sha256": keywords_sha256,
    }


def _yaml(front_matter: Mapping[str, Any]) -> str:
    """YAML front matter in flow style: each value is JSON, which YAML reads as is."""
    lines = ["---"]
    for key, value in front_matter.items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines)


def synthesize(
    transcript: Transcript,
    keywords: SessionKeywords,
    session: Session,
    themes: Sequence[Theme],
    transcript_sha256: str = "",
    keywords_sha256: str = "",
    options: SynthesisOptions | None = None,
) -> Synthesis:
    """The draft synthesis of one session, in French, every sentence from the transcript."""
    options = options or SynthesisOptions()
    sentences = scored_sentences(transcript, keywords, themes)
    brief = choose_brief(sentences, transcript.duration, options)
    front = _front_matter(transcript, keywords, session, themes, transcript_sha256, keywords_sha256)
    by_lemma = {k.lemma: k for k in keywords.keywords}
    out = [_yaml(front), "", f"# {_markdown_text(session.title)}", ""]
    if session.date or session.number is not None:
        facts = [
            f"Séance {session.number}" if session.number is not None else "",
            date_label(session.date),
            f"durée {duration_label(transcript.duration)}",
        ]
        out += [_markdown_text(" · ".join(f for f in facts if f)), ""]
    out += ["## En bref", ""]
    out += [f"- {_link(s.unit.start)} {_markdown_text(s.unit.text)}" for s in brief] or ["_Rien de saillant n'a été détecté : à rédiger._"]
    out += ["", "## Thèmes abordés", ""]
    theme_labels = {t.id: t.label for t in themes}
    for summary in shown_themes(keywords, themes):
        in_brief = {s.index for s in brief}
        filed = {i for p in keywords.passages if p.theme == summary.theme_id for i in range(p.first, p.last + 1)}
        saying = {s.index for s in sentences if summary.theme_id in s.themes}  # its keywords are said there
        chosen = (filed & saying or filed) if filed else saying
        passages = sorted(
            (s for s in sentences if s.index in chosen and _quotable(s, options)),
            key=lambda s: (
                s.index in in_brief,
                s.unit.text.rstrip().endswith("?"),  # a question announces a theme; an answer says it
                -sum(by_lemma[k].score for k in s.keywords if summary.theme_id in by_lemma[k].themes),
                s.index,
            ),
        )[: options.passages_per_theme]
        if not summary.keywords and not passages:
            continue
        out += [
            f"### {_markdown_text(theme_labels.get(summary.theme_id, summary.label))} ({summary.share * 100:.0f} % de la séance)",
            "",
        ]
        if summary.keywords:
            names = ", ".join(_markdown_text(by_lemma[k].surface) for k in summary.keywords[: options.keywords_per_theme])
            out += [_markdown_text("Mots-clés :") + f" {names}.", ""]
        out += [f"- {_link(s.unit.start)} « {_markdown_text(s.unit.text)} »" for s in sorted(passages, key=lambda s: s.index)]
        out.append("")
    out += ["## Chapitres", ""]
    out += [f"- {_link(c.start)} {_markdown_text(c.title)}" for c in chapters_of(sentences, keywords, transcript.duration, options)]
    out += ["", "## Citations", ""]
    voices = {s.id: s for s in transcript.speakers}
    for quote in choose_quotes(sentences, brief, options):
        who = voices.get(quote.unit.speaker or "")
        author = f"{_markdown_text(who.name)}, " if who else ""
        out += [f"> « {_markdown_text(quote.unit.text)} » — {author}{_link(quote.unit.start)}", ""]
    out += ["## Intervenants", ""]
    out += speakers_section(transcript, session)
    out += ["", "## Ressources", ""]
    if session.replay_url:
        out.append(f"- Replay : <{session.replay_url}>")
    out.append(f"- Enregistrement : {_markdown_text(shown(session.recording))}")
    out.append(
        f"- Transcription : [texte]({Names.TRANSCRIPT_TXT}), [sous-titres WebVTT]({Names.TRANSCRIPT_VTT}), "
        f"[SRT]({Names.TRANSCRIPT_SRT}), [JSON]({Names.TRANSCRIPT})"
    )
    out.append(f"- Mots-clés par thème : [{Names.KEYWORDS_MD}]({Names.KEYWORDS_MD})")
    out.append("")
    return Synthesis(session_id=session.id, front_matter=front, markdown="\n".join(out))


def speakers_section(transcript: Transcript, session: Session) -> list[str]:
    """« Intervenants »: who spoke, with role, speaking time and share of the speech (from the
    speakers stage); the catalogue's names nobody heard are named as such."""
    if not transcript.speakers:
        lines = [f"- **{_markdown_text(s.name)}**" + (f", {_markdown_text(s.role)}" if s.role else "") for s in session.speakers]
        return lines or ["_À compléter._"]
    total = sum(s.seconds for s in transcript.speakers) or 1.0
    lines = []
    for speaker in sorted(transcript.speakers, key=lambda s: -s.seconds):
        role = f", {_markdown_text(speaker.role)}" if speaker.role else ""
        share = f"{speaker.seconds / total * 100:.0f} %"
        lines.append(f"- **{_markdown_text(speaker.name)}**{role} — {duration_label(speaker.seconds)} de parole ({share})")
    heard = {s.name for s in transcript.speakers}
    missing = [s.name for s in session.speakers if s.name not in heard]
    if missing:
        lines += ["", _markdown_text("Au catalogue, mais pas reconnus dans l'enregistrement : " + ", ".join(missing) + ".")]
    return lines


def inputs(
    transcript_sha256: str, keywords_sha256: str, session: Session, themes: Sequence[Theme], options: SynthesisOptions
) -> dict[str, object]:
    """What a session's draft synthesis depends on."""
    from dataclasses import asdict

    return {
        "transcript_sha256": transcript_sha256,
        "keywords_sha256": keywords_sha256,
        "session": asdict(session),
        "themes": [asdict(t) for t in themes],
        "options": asdict(options),
        "version": SYNTHESIS_VERSION,
    }


@dataclass(frozen=True)
class EditedSynthesis:
    """A synthesis as the editor left it: its front matter, Markdown body, editorial status
    and « En bref »."""

    front_matter: Mapping[str, Any]
    body: str
    status: str = "draft"
    """``draft``, ``review`` or ``published`` (what the front matter's ``status`` says)."""

    @property
    def published(self) -> bool:
        """Whether an editor declared it reviewed and ready."""
        return self.status == "published"

    @property
    def brief(self) -> tuple[str, ...]:
        """« En bref » items as plain text (stamps, emphasis, link targets and Markdown escapes
        removed): index cards, the feed's summary and the search show them as text."""
        return tuple(plain_markdown(line) for line in section(self.body, "En bref").splitlines() if line.startswith("- "))

    @property
    def lines(self) -> tuple[tuple[int | None, str], ...]:
        """Every line of the body as plain text, lists, quotes and the editor's own headings
        alike (the title, the sections' headings and blank lines left out), each with the moment its first ``[mm:ss](#t=N)`` link
        points to: what the search indexes of the editor's synthesis."""
        found: list[tuple[int | None, str]] = []
        for raw in self.body.splitlines():
            line = raw.strip()
            if not line or line.startswith(("# ", "## ")) or line == "---":
                continue  # the title and the draft's own section headings
            moment = MOMENT_LINK.search(line)
            text = plain_markdown(line)
            if text:
                found.append((int(float(moment.group(1))) if moment else None, text))
        return tuple(found)

    @property
    def chapters(self) -> tuple[tuple[int, str], ...]:
        """« Chapitres » as (start in seconds, title), from items ``- [mm:ss](#t=SECONDS) Title``
        in the order of the recording (an item without a stamp is left out)."""
        found = []
        for line in section(self.body, "Chapitres").splitlines():
            match = re.match(r"^- \[[^\]]*\]\(#t=(\d+)[^)]*\)\s*(.+)$", line.strip())
            if match:
                found.append((int(match.group(1)), _plain_item(match.group(2))))
        return tuple(sorted(found))


def section(body: str, heading: str) -> str:
    """The text under a ``## heading`` of a synthesis, up to the next ``##``."""
    match = re.search(rf"^## {re.escape(heading)}[ \t]*$", body, flags=re.M)
    if not match:
        return ""
    rest = body[match.end() :]
    end = re.search(r"^## ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


MOMENT_LINK = re.compile(r"\]\(#t=(\d+(?:\.\d+)?)[^)]*\)")


def plain_markdown(line: str) -> str:
    """One line of an editor's Markdown as plain text: heading marks, bullets, quotes,
    emphasis, moment stamps and link targets removed, link texts and escapes kept."""
    text = re.sub(r"^(#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)+", "", line)
    text = re.sub(r"\s*\[[^\]]*\]\(#t=[^)]*\)\s*", " ", text)  # a moment's stamp says nothing to search
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<(https?://[^>\s]+)>", r"\1", text)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r" +([.,])", r"\1", " ".join(text.split()))
    return re.sub(r"\\(.)", r"\1", text).strip().rstrip(" —").strip()


def _plain_item(text: str) -> str:
    text = re.sub(r"^\[[^\]]*\]\(#t=[^)]*\)\s*", "", text)
    return re.sub(r"\\(.)", r"\1", text).strip()


STATUSES = {
    "draft": ("draft", "brouillon", "ebauche"),
    "review": ("review", "in review", "en relecture", "relecture", "a relire"),
    "published": ("published", "publie", "publiee", "reviewed", "relu", "relue", "valide", "validee"),
}
"""Editorial statuses and the words accepted for each (compared without case or accents)."""
STATUS_LABELS = {"draft": "brouillon", "review": "en relecture", "published": "publiée"}


def editorial_status(value: Any, source: Any = None, line: int = 0) -> str:
    """The editorial status a front matter's ``status`` means; absent: draft (a synthesis is
    never published by default); an unknown word is a one-line error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "draft"
    decomposed = unicodedata.normalize("NFKD", str(value).casefold())
    key = " ".join(re.sub(r"[-_]", " ", "".join(c for c in decomposed if not unicodedata.combining(c))).split())
    for status, words in STATUSES.items():
        if key in words:
            return status
    where = f"line {line}: " if line else ""
    raise PipelineError(
        source,
        f"{where}status: {value!r} is not an editorial status",
        "write status: draft, review or published (or brouillon, en relecture, publié)",
    )


def read_synthesis(text: str, source: Any = None) -> EditedSynthesis:
    """Split a synthesis into its YAML front matter and Markdown body; one-line errors."""
    if not text.startswith("---\n"):
        return EditedSynthesis({}, text)
    try:
        _, head, body = text.split("---\n", 2)
    except ValueError:
        raise PipelineError(source, "front matter is not closed", "end it with a line of three dashes: ---") from None
    try:
        data = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        reason = str(getattr(exc, "problem", None) or exc).replace("\n", " ")
        raise PipelineError(source, f"{where}front matter is not valid YAML ({reason})", "fix that line between the two '---'") from exc
    if not isinstance(data, dict):
        raise PipelineError(source, "front matter is not a set of 'key: value' lines", "fix the lines between the two '---'")
    line = next((n for n, row in enumerate(head.splitlines(), start=2) if row.startswith("status:")), 0)
    return EditedSynthesis(data, body, editorial_status(data.get("status"), source, line))
