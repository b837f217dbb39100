"""An editor's corrections of ``transcript.txt``, carried back onto the timed words.

``transcript.txt`` is the correctable form of the transcript: one paragraph per line, each
stamped ``[hh:mm:ss]``, « Nom : » where a speaker's turn begins. It opens in any text editor
(which is what editors of a webinar series use; subtitle editors work on 2-line cues, too short
to read a speech), and nothing in it needs a special tool. After an edit, the ``transcript``
stage reads it back: the edited words are aligned onto the decoded words (difflib on the
whitespace-separated tokens), unchanged words keep their times and speaker, a changed span gets
the times of the span it replaces (shared in proportion to the length of each word), inserted
words take the gap where they stand. A name changed at the head of a paragraph gives that
paragraph's words to that speaker. No model runs: every other output is composed from the
result.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import EditorFileError
from .subtitles import paragraphs as text_paragraphs
from .text import xml_safe
from .transcript import Correction, Segment, SpeakerInfo, Transcript, Word, glued, speaking, split_by_speaker

STAMP = re.compile(r"^\[(\d{1,2}):([0-5]\d):([0-5]\d)\][ \t\u00a0\u202f]*(.*)$")
NAME_HEAD = re.compile(r"^([^:\[\]]{1,80}?)[ \t\u00a0\u202f]*:[ \t\u00a0\u202f]+(.*)$")
NAME_WORD = re.compile(r"^(?:[A-ZÀ-ÖØ-Þ][\w'’.-]*|de|du|des|d'|d’|la|le|van|von|ben|el)$")
EDITOR_RULE = "editor"


@dataclass(frozen=True)
class EditedParagraph:
    """A paragraph of the edited text: its line, its stamp (seconds), the name at its head
    (empty when it continues a turn) and its words."""

    line: int
    start: float
    speaker: str
    text: str


@dataclass(frozen=True)
class EditSummary:
    """What an edit changed: words replaced, inserted and removed, and paragraphs given to
    another speaker."""

    replaced: int = 0
    inserted: int = 0
    removed: int = 0
    speakers_changed: int = 0

    @property
    def words_changed(self) -> int:
        """Words the editor touched, all kinds together."""
        return self.replaced + self.inserted + self.removed

    @property
    def changed(self) -> bool:
        return bool(self.words_changed or self.speakers_changed)


def is_name(candidate: str, known: Iterable[str]) -> bool:
    """Whether the text before « : » at a paragraph's head is a speaker's name: one the
    session knows, « Intervenant 3 », or two to five capitalised words."""
    if candidate in set(known):
        return True
    words = candidate.split()
    if len(words) == 2 and NAME_WORD.match(words[0]) and words[1].isdigit():
        return True  # « Intervenant 3 »
    return 2 <= len(words) <= 5 and all(NAME_WORD.match(w) for w in words) and not any(c.isdigit() for c in candidate)


@dataclass(frozen=True)
class EditNote:
    """Something in an edited ``transcript.txt`` an editor should know, though it is read:
    its line, what, and how to change it."""

    line: int
    reason: str
    fix: str


BROKEN_STAMP = re.compile(r"^\[\s*\d[\d:.hms ]*\][ \t\u00a0\u202f]*")
"""A line that starts like a stamp but is not one (« [00:99:99] », « [1:02] »)."""
MAX_EDITED_BYTES = 1_000_000
"""The most ``transcript.txt`` may weigh: four times a four-hour session's text."""


def check_size(path: Path) -> None:
    """Refuse, in one line, a ``transcript.txt`` too large to be a transcript (a paste gone
    wrong): reading it back would take minutes and hold the sessions after it."""
    size = path.stat().st_size
    if size > MAX_EDITED_BYTES:
        raise EditorFileError(
            path,
            f"is {size / 1e6:.1f} MB, more than any session's transcript ({MAX_EDITED_BYTES / 1e6:.0f} MB at most): it is not read",
            "undo the paste that made it grow (or delete the file: the pipeline writes its text again)",
        )


def read_edited(text: str, known_names: Iterable[str], source: Path | str | None = None) -> tuple[EditedParagraph, ...]:
    """The paragraphs of an edited ``transcript.txt`` (see :func:`read_edited_notes`)."""
    return read_edited_notes(text, known_names, source)[0]


def read_edited_notes(
    text: str, known_names: Iterable[str], source: Path | str | None = None
) -> tuple[tuple[EditedParagraph, ...], tuple[EditNote, ...]]:
    """The paragraphs of an edited ``transcript.txt``, and what the editor should know.
    Lines before the first stamp are its header; a paragraph runs from a stamped line to the
    next stamped or blank line (an editor's wrapped lines are joined). A paragraph whose
    stamp was deleted is kept where it stands, after the paragraph above (its words are
    placed by alignment, not by the stamp), and noted; a mistyped stamp (« [00:99:99] ») is
    an error with its line; the same paragraph twice in a row is noted with both lines."""
    known = tuple(known_names)
    paragraphs: list[EditedParagraph] = []
    notes: list[EditNote] = []
    current: list[str] | None = None
    head: tuple[int, float, str] = (0, 0.0, "")
    previous_start = -1.0
    blank = False

    def close() -> None:
        if current is not None:
            paragraphs.append(EditedParagraph(head[0], head[1], head[2], " ".join(current).strip()))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = xml_safe(raw).strip()
        match = STAMP.match(line)
        if not match and BROKEN_STAMP.match(line):
            stamp = BROKEN_STAMP.match(line).group(0).strip()  # type: ignore[union-attr]
            raise EditorFileError(
                source,
                f"line {number}: {stamp} is not a time [hh:mm:ss] (minutes and seconds below 60)",
                f"write the paragraph's time there, e.g. [{_clock(max(previous_start, 0.0))}], as in the SubRip file",
            )
        if match:
            close()
            hours, minutes, seconds, rest = match.groups()
            start = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
            if start < previous_start:
                raise EditorFileError(
                    source,
                    f"line {number}: the stamp [{hours}:{minutes}:{seconds}] comes before the one above it",
                    "keep the stamps in order",
                )
            previous_start = start
            speaker = ""
            named = NAME_HEAD.match(rest)
            if named and is_name(named.group(1).strip(), known):
                speaker, rest = named.group(1).strip(), named.group(2)
            current, head = [rest], (number, float(start), speaker)
            blank = False
        elif not line:
            blank = True
        elif current is not None:
            if blank:  # after a blank line, a paragraph without its stamp: kept after the one above
                notes.append(
                    EditNote(
                        number,
                        "this paragraph has no stamp [hh:mm:ss]; it is kept after the paragraph above",
                        f"put its time back at the start of the line, e.g. [{_clock(previous_start)}]",
                    )
                )
            current.append(line)
            blank = False
        # text before the first stamp is the header, left alone
    close()
    if not paragraphs:
        raise EditorFileError(source, "line 1: no paragraph stamped [hh:mm:ss] was found", "keep the stamp at the start of each paragraph")
    for before, after in itertools.pairwise(paragraphs):
        if before.text == after.text and len(after.text.split()) >= 6:
            notes.append(
                EditNote(after.line, f"lines {before.line} and {after.line} hold the same paragraph twice in a row", "delete one of them")
            )
    return tuple(paragraphs), tuple(notes)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def heads_of(text: str) -> dict[float, list[str]]:
    """The « Nom : » head of each stamped line of a text as the pipeline wrote it (empty when
    the line has none), by stamp."""
    heads: dict[float, list[str]] = {}
    for raw in text.splitlines():
        match = STAMP.match(raw.strip())
        if match:
            hours, minutes, seconds, rest = match.groups()
            named = NAME_HEAD.match(rest)
            start = float(int(hours) * 3600 + int(minutes) * 60 + int(seconds))
            heads.setdefault(start, []).append(named.group(1).strip() if named else "")
    return heads


def editor_heads(paragraphs: Sequence[EditedParagraph], original: str) -> tuple[EditedParagraph, ...]:
    """The paragraphs with only the heads the editor wrote: a « Nom : » head the pipeline
    itself wrote at that stamp says nothing about who speaks, so the words keep their voice,
    and a voice renamed since in ``speakers.toml`` carries its new name there too."""
    written = heads_of(original)
    return tuple(replace(p, speaker="") if p.speaker and p.speaker in written.get(p.start, ()) else p for p in paragraphs)


@dataclass(frozen=True)
class _Token:
    """A whitespace-separated token of the transcript and the word pieces it is made of."""

    text: str
    words: tuple[Word, ...]
    segment: int


def _tokens(segments: Sequence[Segment]) -> list[_Token]:
    tokens = [
        _Token("".join(w.word for w in group).strip(), tuple(group), index)
        for index, segment in enumerate(segments)
        for group in glued(segment.words)
    ]
    return [t for t in tokens if t.text]


def _spread(texts: Sequence[str], start: float, end: float) -> list[tuple[float, float]]:
    """Times for new words filling [start, end], in proportion to their length."""
    total = sum(len(t) for t in texts) or 1
    times, moment = [], start
    for text in texts:
        step = (end - start) * len(text) / total
        times.append((round(moment, 3), round(moment + step, 3)))
        moment += step
    return times


def apply_edits(
    transcript: Transcript,
    paragraphs: Sequence[EditedParagraph],
    roles: Mapping[str, str] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> tuple[Transcript, EditSummary]:
    """The transcript as the editor corrected it, and what changed. ``aliases``: earlier
    names of the transcript's voices (name -> voice id), so that a head with a voice's old
    name stays with that voice."""
    roles = roles or {}
    old = _tokens(transcript.segments)
    new: list[tuple[str, int]] = [(token, index) for index, p in enumerate(paragraphs) for token in p.text.split()]
    ids = {s.name: s.id for s in transcript.speakers}
    voices = set(ids.values())
    ids = {**{name: voice for name, voice in (aliases or {}).items() if voice in voices}, **ids}
    speakers = list(transcript.speakers)
    wanted: list[str | None] = []  # speaker id per edited paragraph, None: the words keep theirs
    for paragraph in paragraphs:
        if not paragraph.speaker:
            wanted.append(None)
            continue
        if paragraph.speaker not in ids:
            ids[paragraph.speaker] = f"EDITOR_{sum(1 for s in speakers if s.id.startswith('EDITOR_')) + 1}"
            speakers.append(SpeakerInfo(ids[paragraph.speaker], paragraph.speaker, roles.get(paragraph.speaker, "")))
        wanted.append(ids[paragraph.speaker])

    placed: list[tuple[tuple[Word, ...], int, int]] = []  # (words, segment, edited paragraph)
    corrections: list[Correction] = []
    replaced = inserted = removed = 0
    old_groups = _by_paragraph(transcript, old)
    new_groups = [p.text.split() for p in paragraphs]
    for tag, i1, i2, j1, j2 in opcodes(old_groups, new_groups):
        if tag == "equal":
            placed += [(old[i].words, old[i].segment, new[j][1]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        texts = [t for t, _ in new[j1:j2]]
        if i2 > i1:
            start, end = old[i1].words[0].start, old[i2 - 1].words[-1].end
            segment = old[i1].segment
            speaker = old[i1].words[0].speaker
        else:
            before = placed[-1][0][-1] if placed else None
            after = old[i1].words[0] if i1 < len(old) else None
            start = before.end if before else (after.start if after else 0.0)
            end = after.start if after else start
            end = max(end, start)
            segment = placed[-1][1] if placed else (old[i1].segment if i1 < len(old) else 0)
            speaker = before.speaker if before else (after.speaker if after else None)
        for (text, (first, last)), (_, where) in zip(zip(texts, _spread(texts, start, end), strict=True), new[j1:j2], strict=True):
            placed.append(((Word(first, last, " " + text, 1.0, speaker),), segment, where))
        heard = " ".join(t.text for t in old[i1:i2])
        corrections.append(Correction(round(start, 3), round(end, 3), heard, " ".join(texts), EDITOR_RULE))
        replaced, inserted, removed = (a + b for a, b in zip((replaced, inserted, removed), _counts(i2 - i1, j2 - j1), strict=True))

    # speakers named at the head of a paragraph
    speakers_changed = 0
    words_by_segment: dict[tuple[int, int], list[Word]] = {}
    for words, segment, index in placed:
        voice = wanted[index]
        if voice is not None and any(w.speaker != voice for w in words):
            words = tuple(replace(w, speaker=voice) for w in words)
            speakers_changed += 1
        words_by_segment.setdefault((segment, index), []).extend(words)
    segments = _segments(transcript.segments, words_by_segment)
    spoken = speaking(segments)
    counted = tuple(replace(s, seconds=spoken[s.id][0], words=spoken[s.id][1]) for s in speakers if s.id in spoken)
    result = replace(transcript, segments=segments, speakers=counted, corrections=(*transcript.corrections, *corrections))
    return result, EditSummary(replaced, inserted, removed, speakers_changed)


def _counts(before: int, after: int) -> tuple[int, int, int]:
    """Words replaced, inserted and removed when ``before`` tokens became ``after`` tokens."""
    common = min(before, after)
    return common, after - common, before - common


def opcodes(old: Sequence[Sequence[str]], new: Sequence[Sequence[str]]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes between two token sequences given in groups (paragraphs), over the
    flattened tokens. Groups are matched first and tokens only inside groups that differ:
    a correction of a few words in an hour of speech costs milliseconds, where one
    SequenceMatcher over 15,000 tokens of spoken French (« de », « la », « et » everywhere)
    takes seconds."""
    old_starts = [0]
    for group in old:
        old_starts.append(old_starts[-1] + len(group))
    new_starts = [0]
    for group in new:
        new_starts.append(new_starts[-1] + len(group))
    result: list[tuple[str, int, int, int, int]] = []
    outer = difflib.SequenceMatcher(None, [tuple(g) for g in old], [tuple(g) for g in new], autojunk=False)
    for tag, g1, g2, h1, h2 in outer.get_opcodes():
        i1, i2, j1, j2 = old_starts[g1], old_starts[g2], new_starts[h1], new_starts[h2]
        if tag == "equal":
            if i2 > i1:
                result.append(("equal", i1, i2, j1, j2))
            continue
        left = [t for g in old[g1:g2] for t in g]
        right = [t for g in new[h1:h2] for t in g]
        inner = difflib.SequenceMatcher(None, left, right, autojunk=False)
        result += [(op, i1 + a1, i1 + a2, j1 + b1, j1 + b2) for op, a1, a2, b1, b2 in inner.get_opcodes() if a2 > a1 or b2 > b1]
    return result


def _by_paragraph(transcript: Transcript, tokens: Sequence[_Token]) -> list[list[str]]:
    """The tokens' texts grouped as ``transcript.txt`` shows them, one group per paragraph."""
    position = {segment.id: index for index, segment in enumerate(transcript.segments)}
    paragraph_of = {position[i]: n for n, p in enumerate(text_paragraphs(transcript)) for i in p.segment_ids if i in position}
    groups: dict[int, list[str]] = {}
    for token in tokens:
        groups.setdefault(paragraph_of.get(token.segment, -1), []).append(token.text)
    return [groups[k] for k in sorted(groups)]


def changes(before: Transcript, after: Transcript) -> EditSummary:
    """What changed in the words from one transcript to the other (speakers not counted)."""
    old, new = _tokens(before.segments), _tokens(after.segments)
    totals = [0, 0, 0]
    for tag, i1, i2, j1, j2 in opcodes(_by_paragraph(before, old), _by_paragraph(after, new)):
        if tag != "equal":
            totals = [a + b for a, b in zip(totals, _counts(i2 - i1, j2 - j1), strict=True)]
    return EditSummary(*totals)


def _segments(original: Sequence[Segment], words_by_segment: Mapping[tuple[int, int], list[Word]]) -> tuple[Segment, ...]:
    """Segments rebuilt around their words (in the editor's paragraphs), cut where the
    speaker changes, renumbered; a segment whose words were all removed disappears."""
    result: list[Segment] = []
    for (segment, _), words in sorted(words_by_segment.items(), key=lambda item: (item[1][0].start, item[0])):
        result += split_by_speaker(original[segment], words)
    return tuple(replace(s, id=i) for i, s in enumerate(result))
