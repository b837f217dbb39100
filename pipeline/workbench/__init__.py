"""The editor's workbench: one session's sound, text, voices, flags and synthesis on one
local page (``pipeline review``), writing the same editor files as the text-file workflow.

This module is the library: what the page shows of a session (:meth:`Workbench.view`) and
each change an editor makes (a paragraph's words or voice, a voice's name, a glossary
proposal, the synthesis, its status). Every change is checked against the version of the
file the page was showing (a second tab that saved first makes it a :class:`Conflict`, never a
silent overwrite), written atomically under the run lock, and followed by the stages that
need no model (the publishable transcript), so that the page shows the result at once.
:mod:`.server` serves it on 127.0.0.1 behind a random token; :mod:`.export` writes the
``.docx`` and ``.odt`` editors are asked for.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import corrections
from .. import review as review_stage
from .. import speakers as speakers_stage
from .. import transcript as transcript_io
from ..catalogue import SAFE_ID
from ..errors import EditorFileError, PipelineError
from ..glossary import GLOSSARY_FILE, HEADER, appended, proposals, read_glossary
from ..project import Project
from ..runner import execute
from ..steps.speakers import recording_of
from ..steps.transcript import editor_name, review_flags, review_report
from ..store import Names, Store, atomic_write, sha256_bytes
from ..subtitles import short_clock
from ..synthesis import STATUS_LABELS, editorial_status, read_synthesis
from ..text import toml_string, utc_now, xml_safe

MAX_TEXT = 20_000
"""The most characters one paragraph's text may hold."""
MAX_SYNTHESIS = 500_000
"""The most characters a synthesis may hold."""
STAMP_LINE = re.compile(r"^\[(\d{1,2}:[0-5]\d:[0-5]\d)\][ \t\u00a0\u202f]*(.*)$")


class Conflict(PipelineError):
    """The file changed since the page showed it (another tab, another editor, a run)."""


class Refused(PipelineError):
    """A request the workbench does not take (an unknown session or voice, a text too long)."""


def version(text: str | None) -> str:
    """What identifies a file's content for a page: its SHA-256 (empty when it is absent)."""
    return sha256_bytes(text.encode("utf-8")) if text is not None else ""


@dataclass(frozen=True)
class Workbench:
    """The editor's workbench over one recordings folder and its ``outputs/``."""

    recordings_dir: Path
    outputs: Path

    def project(self) -> Project:
        """The project as its files say now (an editor may change the catalogue meanwhile)."""
        return Project.load(self.recordings_dir, self.outputs)

    # -- what the page shows ----------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        """Every session with a transcript: its title, its flags to check and its status."""
        project = self.project()
        rows = []
        for session_id in project.store.sessions_with(Names.TRANSCRIPT):
            session = project.session(session_id)
            transcript = transcript_io.load(project.store.path(session_id, Names.TRANSCRIPT))
            status = self._status(project, session_id)
            rows.append(
                {
                    "id": session_id,
                    "title": session.title,
                    "date": session.date or "",
                    "flags": len(review_flags(project, session, transcript)),
                    "status": status,
                    "status_label": STATUS_LABELS.get(status, ""),
                }
            )
        return rows

    def known(self, session_id: str) -> str:
        """The session id, if it is a session of this series (else :class:`Refused`)."""
        store = Store(self.outputs)
        if not SAFE_ID.match(session_id) or session_id not in store.sessions_with(Names.TRANSCRIPT):
            raise Refused(None, f"no session '{session_id[:80]}'", "open a session from the workbench's list")
        return session_id

    def view(self, session_id: str) -> dict[str, Any]:
        """Everything the session's page shows, with the version of each editor file."""
        project = self.project()
        store = project.store
        self.known(session_id)
        session = project.session(session_id)
        transcript = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
        text = store.read_text(session_id, Names.TRANSCRIPT_TXT)
        paragraphs = corrections.read_edited(
            text, self._names(project, session_id, transcript), store.path(session_id, Names.TRANSCRIPT_TXT)
        )
        flags = review_flags(project, session, transcript)
        starts = [p.start for p in paragraphs]
        spoken = sorted(((w.start, w.speaker or "") for s in transcript.segments for w in s.words if w.speaker), key=lambda w: w[0])
        shown_paragraphs = []
        for index, paragraph in enumerate(paragraphs):
            end = starts[index + 1] if index + 1 < len(starts) else float("inf")
            voice = self._voice_at(spoken, paragraph.start, end)
            shown_paragraphs.append(
                {
                    "line": paragraph.line,
                    "start": paragraph.start,
                    "clock": short_clock(paragraph.start),
                    "head": paragraph.speaker,
                    "voice": voice,
                    "text": paragraph.text,
                    "flags": [i for i, f in enumerate(flags) if paragraph.start - 1 <= f.start < end],
                }
            )
        names_text = store.read_text(session_id, Names.SPEAKER_NAMES) if store.path(session_id, Names.SPEAKER_NAMES).exists() else None
        synthesis = store.read_text(session_id, Names.SYNTHESIS) if store.path(session_id, Names.SYNTHESIS).exists() else None
        voices = self._voices(project, session_id, transcript, names_text)
        found = proposals([transcript], read_glossary(project.recordings_dir / GLOSSARY_FILE))
        return {
            "id": session_id,
            "title": session.title,
            "number": session.number,
            "date": session.date or "",
            "duration": transcript.duration,
            "media": self._media_kind(project, session_id, transcript),
            "paragraphs": shown_paragraphs,
            "flags": [
                {
                    "start": f.start,
                    "end": f.end,
                    "clock": short_clock(f.start),
                    "kind": f.kind,
                    "reason": review_stage.REASONS.get(f.kind, f.kind),
                    "text": f.text,
                }
                for f in flags
            ],
            "voices": voices,
            "proposals": [{"heard": p.heard, "text": p.text, "start": p.start} for p in found],
            "synthesis": synthesis or "",
            "status": self._status(project, session_id),
            "history": [e for e in store.events(session_id) if e.get("event") in ("status", "corrected")][-10:],
            "versions": {
                Names.TRANSCRIPT_TXT: version(text),
                Names.SPEAKER_NAMES: version(names_text),
                Names.SYNTHESIS: version(synthesis),
            },
        }

    def _names(self, project: Project, session_id: str, transcript: transcript_io.Transcript) -> list[str]:
        return [s.name for s in transcript.speakers] + [s.name for s in project.session(session_id).speakers]

    @staticmethod
    def _voice_at(spoken: Sequence[tuple[float, str]], start: float, end: float) -> str:
        """The voice that says most of a paragraph's words (``spoken``: each word's start and
        voice, in time order; the first voice heard wins a tie)."""
        first = bisect.bisect_left(spoken, start - 0.5, key=lambda w: w[0])
        last = bisect.bisect_left(spoken, end, key=lambda w: w[0])
        said = Counter(voice for _, voice in spoken[first:last])
        return max(said, key=said.__getitem__) if said else ""

    def _voices(
        self, project: Project, session_id: str, transcript: transcript_io.Transcript, names_text: str | None
    ) -> list[dict[str, Any]]:
        """The session's voices: their id, name, speaking time, and whether the editor can
        rename them in ``speakers.toml`` (the voices the speakers stage told apart)."""
        editable = set(speakers_stage.read_names(names_text, project.store.path(session_id, Names.SPEAKER_NAMES))) if names_text else set()
        return [{"id": s.id, "name": s.name, "seconds": round(s.seconds, 1), "renamable": s.id in editable} for s in transcript.speakers]

    @staticmethod
    def _media_kind(project: Project, session_id: str, transcript: transcript_io.Transcript) -> str:
        try:
            path = recording_of(project, session_id, transcript.provenance.input_name)
        except PipelineError:
            return ""
        return "video" if path.suffix.lower() in {".mp4", ".mkv", ".mov", ".webm"} else "audio"

    def media(self, session_id: str) -> Path:
        """The recording of a session, to play."""
        project = self.project()
        self.known(session_id)
        transcript = transcript_io.load(project.store.path(session_id, Names.TRANSCRIPT))
        return recording_of(project, session_id, transcript.provenance.input_name)

    @staticmethod
    def _status(project: Project, session_id: str) -> str:
        path = project.store.path(session_id, Names.SYNTHESIS)
        if not path.exists():
            return ""
        try:
            return read_synthesis(path.read_text(encoding="utf-8"), path).status
        except PipelineError:
            return ""

    # -- what an editor changes ----------------------------------------------------------------

    def _check(self, project: Project, session_id: str, name: str, base: str) -> str | None:
        store = project.store
        current = store.read_text(session_id, name) if store.path(session_id, name).exists() else None
        if version(current) != base:
            raise Conflict(
                store.path(session_id, name),
                "was changed since this page showed it (another tab, another editor, or a run)",
                "reload the page to see the present text, then make your change again",
            )
        return current

    def _recompose(self, project: Project, session_id: str) -> None:
        report = execute(project, ("transcript",), [session_id])
        if report.failed:
            raise EditorFileError(project.store.path(session_id, Names.TRANSCRIPT_TXT), report.failed[0].error, "undo the last change")

    def save_paragraph(self, session_id: str, line: int, text: str, head: str | None, base: str) -> dict[str, Any]:
        """A paragraph's words (and, with ``head``, the voice it is said by: a voice's name,
        or empty to leave its words with their voices), in ``transcript.txt``."""
        project = self.project()
        self.known(session_id)
        words = " ".join(xml_safe(text).split())
        if len(words) > MAX_TEXT:
            raise Refused(None, f"a paragraph of {len(words)} characters", f"keep a paragraph under {MAX_TEXT} characters")
        if head is not None:
            head = " ".join(xml_safe(head).split())
            if head and (len(head) > 80 or ":" in head or "[" in head):
                raise Refused(None, f"'{head[:80]}' cannot be a speaker's name", "write a name without « : » or « [ »")
        with project.store.lock(wait=True):
            current = self._check(project, session_id, Names.TRANSCRIPT_TXT, base) or ""
            lines = current.splitlines()
            if not 1 <= line <= len(lines) or not STAMP_LINE.match(lines[line - 1].strip()):
                raise Refused(None, f"line {line} is not a paragraph", "reload the page")
            stamp, rest = STAMP_LINE.match(lines[line - 1].strip()).groups()  # type: ignore[union-attr]
            named = corrections.NAME_HEAD.match(rest)
            transcript = transcript_io.load(project.store.path(session_id, Names.TRANSCRIPT))
            old_head = (
                named.group(1).strip()
                if named and corrections.is_name(named.group(1).strip(), self._names(project, session_id, transcript))
                else ""
            )
            new_head = old_head if head is None else head
            end = line
            while end < len(lines) and lines[end].strip() and not STAMP_LINE.match(lines[end].strip()):
                end += 1  # the paragraph's wrapped lines
            lines[line - 1 : end] = [f"[{stamp}] {new_head + ' : ' if new_head else ''}{words}"]
            atomic_write(project.store.path(session_id, Names.TRANSCRIPT_TXT), ("\n".join(lines) + "\n").encode("utf-8"))
            self._recompose(project, session_id)
        return self.view(session_id)

    def rename_voice(self, session_id: str, voice: str, name: str, base: str) -> dict[str, Any]:
        """A voice's name for the whole session, in ``speakers.toml``."""
        project = self.project()
        self.known(session_id)
        name = " ".join(xml_safe(name).split())
        if not name or len(name) > 80:
            raise Refused(None, "a voice's name must have 1 to 80 characters", 'write a name, e.g. "Inès Martin"')
        with project.store.lock(wait=True):
            current = self._check(project, session_id, Names.SPEAKER_NAMES, base)
            path = project.store.path(session_id, Names.SPEAKER_NAMES)
            if current is None or voice not in speakers_stage.read_names(current, path):
                raise Refused(path, f"'{voice[:40]}' is not a voice of this session", "choose a voice from the page")
            text = re.sub(rf"(?m)^{re.escape(voice)}\s*=.*$", lambda _: f"{voice} = {toml_string(name)}", current)
            atomic_write(path, text.encode("utf-8"))
            self._recompose(project, session_id)
        return self.view(session_id)

    def accept_proposal(self, session_id: str, heard: str, text: str) -> dict[str, Any]:
        """A glossary proposal accepted: ``recordings/glossary.toml`` learns it, and every
        session's transcript is composed with it."""
        project = self.project()
        self.known(session_id)
        path = project.recordings_dir / GLOSSARY_FILE
        transcript = transcript_io.load(project.store.path(session_id, Names.TRANSCRIPT))
        chosen = [p for p in proposals([transcript], read_glossary(path)) if p.heard == heard and p.text == text]
        if not chosen:
            raise Refused(path, f"no proposal « {heard[:40]} » → « {text[:40]} »", "reload the page")
        with project.store.lock(wait=True):
            existing = path.read_text(encoding="utf-8-sig") if path.exists() else HEADER
            atomic_write(path, appended(existing, chosen[:1]).encode("utf-8"))
            project = self.project()
            execute(project, ("transcript",), project.store.sessions_with(Names.ASR))
        return self.view(session_id)

    def save_synthesis(self, session_id: str, markdown: str, base: str) -> dict[str, Any]:
        """The synthesis as the editor wrote it (its front matter must read)."""
        project = self.project()
        self.known(session_id)
        if len(markdown) > MAX_SYNTHESIS:
            raise Refused(None, f"a synthesis of {len(markdown)} characters", f"keep it under {MAX_SYNTHESIS} characters")
        path = project.store.path(session_id, Names.SYNTHESIS)
        text = xml_safe(markdown).replace("\r\n", "\n")
        read_synthesis(text, path)  # a front matter that does not read is refused with its line
        with project.store.lock(wait=True):
            self._check(project, session_id, Names.SYNTHESIS, base)
            atomic_write(path, text.encode("utf-8"))
        return self.view(session_id)

    def set_status(self, session_id: str, status: str, base: str) -> dict[str, Any]:
        """The synthesis' editorial status (draft, review, published), with who and when."""
        project = self.project()
        self.known(session_id)
        wanted = editorial_status(status)
        path = project.store.path(session_id, Names.SYNTHESIS)
        with project.store.lock(wait=True):
            current = self._check(project, session_id, Names.SYNTHESIS, base)
            if current is None:
                raise Refused(path, "no synthesis yet", "run `pipeline run` first")
            before = read_synthesis(current, path).status
            if re.search(r"(?m)^status:.*$", current.split("\n---", 1)[0]):
                text = re.sub(r"(?m)^status:.*$", f'status: "{wanted}"', current, count=1)
            else:
                text = current.replace("---\n", f'---\nstatus: "{wanted}"\n', 1)
            atomic_write(path, text.encode("utf-8"))
            project.store.add_event(
                session_id,
                {"event": "status", "date": utc_now(), "object": Names.SYNTHESIS, "from": before, "status": wanted, "agent": editor_name()},
            )
        return self.view(session_id)

    def review_markdown(self, session_id: str) -> str:
        """``review.md`` as the run would write it now."""
        project = self.project()
        self.known(session_id)
        transcript = transcript_io.load(project.store.path(session_id, Names.TRANSCRIPT))
        return review_report(project, project.session(session_id), transcript)
