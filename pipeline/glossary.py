"""The series' glossary (``recordings/glossary.toml``): terms with their validated spelling and
what Whisper was heard to write instead. It is the series' memory: a term an editor corrected
once is right in the next session, because the ``transcript`` stage applies the glossary after
decoding (:mod:`pipeline.vocabulary`: exact known misrecognitions; close spellings only for
terms marked ``close = true``).

Editors' corrections feed it: ``pipeline glossary`` lists what the corrections of every session
propose (« umache publique » → « commande publique »), ``pipeline glossary --accept N`` adds
them. The file is only ever appended to, so an editor's comments and order stay as written.

    [[term]]
    text = "commande publique"
    heard = ["umache publique"]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .catalogue import TomlLocator, read_toml
from .errors import EditorFileError
from .text import toml_string
from .transcript import Transcript
from .vocabulary import Term, normalise

GLOSSARY_FILE = "glossary.toml"
TERM_FIELDS = {"text", "heard", "close"}
MAX_WORDS = 4
"""A proposal spans at most this many words (longer edits are rewrites, not terms)."""
CONTEXT_LETTERS = 4
"""A one-word correction takes the next word with it when that word has at least this many
letters (« umache » → « commande » becomes « umache publique » → « commande publique »):
a phrase is a safer exact match than a lone word."""

HEADER = """# Glossaire de la série : l'orthographe validée de chaque terme, et ce que la transcription
# automatique a écrit à sa place (heard). Chaque séance est corrigée avec ce glossaire.
# `pipeline glossary` propose les corrections des éditeurs ; `pipeline glossary --accept N` les ajoute.
"""


def read_glossary(path: Path) -> tuple[Term, ...]:
    """The glossary's terms (none when the file is absent); one-line errors with the line.
    Two entries for one term are merged."""
    if not path.exists():
        return ()
    text, data = read_toml(path)
    locate = TomlLocator(text, "term")
    unknown = sorted(set(data) - {"term"})
    if unknown:
        raise EditorFileError(path, f"'{unknown[0]}' is not a glossary table", "write each term as [[term]] with text = and heard =")
    entries = data.get("term", [])
    if not isinstance(entries, list):
        raise EditorFileError(path, "'term' must be [[term]] tables", "write each term as [[term]] with text = and heard =")
    merged: dict[str, Term] = {}
    for index, entry in enumerate(entries):
        where = f"line {locate.line_of(index)}: term #{index + 1}"
        extra = sorted(set(entry) - TERM_FIELDS)
        if extra:
            raise EditorFileError(
                path, f"line {locate.line_of(index, extra[0])}: term #{index + 1} has no field '{extra[0]}'", "use text, heard, close"
            )
        spelling = entry.get("text")
        if not isinstance(spelling, str) or not normalise(spelling):
            raise EditorFileError(path, f"{where} has no text", 'write text = "the right spelling"')
        heard = entry.get("heard", [])
        if isinstance(heard, str):
            heard = [heard]
        if not isinstance(heard, list) or not all(isinstance(h, str) and h.strip() for h in heard):
            raise EditorFileError(
                path, f"line {locate.line_of(index, 'heard')}: term #{index + 1}, heard must be a list of texts", 'write heard = ["…", "…"]'
            )
        close = entry.get("close", False)
        if not isinstance(close, bool):
            raise EditorFileError(
                path, f"line {locate.line_of(index, 'close')}: term #{index + 1}, close must be true or false", "write close = true"
            )
        key = normalise(spelling)
        before = merged.get(key, Term(spelling.strip(), (), False))
        variants = tuple(dict.fromkeys([*before.variants, *(h.strip() for h in heard)]))
        merged[key] = Term(before.text, variants, before.fuzzy or close)
    return tuple(merged.values())


@dataclass(frozen=True)
class Proposal:
    """A known misrecognition an editor's correction suggests: what was heard, what is
    right, and where it was corrected."""

    heard: str
    text: str
    session_id: str
    start: float


def proposals(transcripts: Iterable[Transcript], glossary: Sequence[Term]) -> list[Proposal]:
    """What the editors' corrections propose for the glossary, each pair once, those the
    glossary already knows left out."""
    known = {(normalise(t.text), normalise(v)) for t in glossary for v in t.variants}
    found: dict[tuple[str, str], Proposal] = {}
    for transcript in transcripts:
        words = [w for s in transcript.segments for w in s.words]
        for correction in transcript.corrections:
            if correction.rule != "editor" or not correction.heard.strip() or not correction.written.strip():
                continue
            heard, written = correction.heard.split(), correction.written.split()
            if len(heard) == 1 and len(written) == 1:
                following = next((w.word.strip() for w in words if w.start >= correction.end - 1e-6 and w.end > correction.end), "")
                following = following.strip('.,;:!?…«»"')
                if sum(c.isalpha() for c in following) >= CONTEXT_LETTERS:
                    heard, written = [*heard, following], [*written, following]
            pair = (" ".join(heard).strip(".,;:!?…"), " ".join(written).strip(".,;:!?…"))
            key = (normalise(pair[1]), normalise(pair[0]))
            if len(heard) > MAX_WORDS or len(written) > MAX_WORDS or not all(key) or key[0] == key[1] or key in known:
                continue
            found.setdefault(key, Proposal(pair[0], pair[1], transcript.session_id, correction.start))
    return sorted(found.values(), key=lambda p: (p.text.casefold(), p.heard.casefold()))


def appended(existing: str, accepted: Sequence[Proposal]) -> str:
    """The glossary's text with the accepted proposals added at its end (what the editor
    wrote is kept byte for byte)."""
    text = existing or HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    for proposal in accepted:
        text += f"\n[[term]]\ntext = {toml_string(proposal.text)}\nheard = [{toml_string(proposal.heard)}]\n"
    return text
