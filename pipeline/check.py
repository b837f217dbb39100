"""The catalogue and the recordings folder checked before any work (``pipeline check``, and
the first thing ``pipeline run`` does).

The rule: an **error** is something the run cannot do as the editor asked, and would do wrong
(two recordings claiming one session); the run refuses that recording, one line each, and the
others go on. A **warning** is something the run will leave out or ignore (a catalogued
recording that is not there, a theme id that does not exist, a file that is not a recording):
it is printed first, one line each, and the run goes on. A malformed catalogue file is refused
earlier, when it is read, with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .catalogue import SESSIONS_FILE, THEMES_FILE, line_matching
from .curation import CURATION_FILE
from .errors import shown
from .glossary import GLOSSARY_FILE
from .media import MEDIA_SUFFIXES, not_a_recording_file
from .plan import Project
from .settings import SETTINGS_FILE

EDITOR_FILES = frozenset({SESSIONS_FILE, THEMES_FILE, SETTINGS_FILE, GLOSSARY_FILE, CURATION_FILE})
"""Files of the recordings folder that are not recordings, and are read."""
NOTES = frozenset({".txt", ".md", ".pdf", ".odt", ".docx", ".doc", ".srt", ".vtt", ".jpg", ".jpeg", ".png"})
"""Companions an editor may keep beside a recording (a script, notes, slides): never warned about."""


@dataclass(frozen=True)
class Problem:
    """One thing found: which file (and line), what, how to fix it, and whether it is an error."""

    path: Path
    reason: str
    fix: str
    error: bool = False
    line: int = 0
    said: str = ""
    """The whole line, when another part of the pipeline already worded it."""

    def one_line(self) -> str:
        """``file: line N: reason (fix)``."""
        if self.said:
            return self.said
        where = f"line {self.line}: " if self.line else ""
        return f"{shown(self.path)}: {where}{self.reason} ({self.fix})"


def check_project(project: Project) -> list[Problem]:
    """Every problem of the catalogue and the recordings folder, errors first."""
    folder = project.recordings_dir
    sessions_file, themes_file = folder / SESSIONS_FILE, folder / THEMES_FILE
    sessions_text = sessions_file.read_text(encoding="utf-8-sig") if sessions_file.exists() else ""
    problems: list[Problem] = []
    for source in project.sources():
        if source.error:
            problems.append(Problem(source.path, "", "", True, said=source.error))
    known_themes = {t.id for t in project.catalogue.themes}
    for session in project.catalogue.sessions:
        if session.recording and not (folder / session.recording).exists():
            problems.append(
                Problem(
                    sessions_file,
                    f"session '{session.id}': its recording {session.recording} is not in {shown(folder)}",
                    "put the file there, correct the name, or remove the entry",
                    line=line_matching(sessions_text, rf"recording\s*=\s*[\"']{re.escape(session.recording)}[\"']"),
                )
            )
        for theme in session.themes:
            if theme not in known_themes:
                problems.append(
                    Problem(
                        sessions_file,
                        f"session '{session.id}': theme '{theme}' is not in {THEMES_FILE}, it is ignored",
                        f"use one of: {', '.join(sorted(known_themes)) or 'none (themes.toml is empty)'}",
                        line=line_matching(sessions_text, rf"[\"']{re.escape(theme)}[\"']"),
                    )
                )
    if not any(t.kind == "theme" for t in project.catalogue.themes):
        state = "is missing" if not themes_file.exists() else "has no [[theme]]"
        problems.append(
            Problem(themes_file, f"{state}: keywords will have no theme and the site no theme pages", "copy the programme's themes.toml")
        )
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            suffix = path.suffix.lower()
            unreadable = not_a_recording_file(path) if suffix in MEDIA_SUFFIXES and not path.name.startswith(".") else None
            if unreadable:
                problems.append(Problem(path, *unreadable, True))
                continue
            if path.name.startswith(".") or path.is_dir() or path.name in EDITOR_FILES or suffix in MEDIA_SUFFIXES or suffix in NOTES:
                continue
            problems.append(
                Problem(
                    path,
                    f"is not a recording this pipeline reads ({suffix or 'no extension'}); it is ignored",
                    f"convert it, e.g. ffmpeg -i '{shown(path.name)}' '{shown(path.stem)}.mp4', or move it elsewhere",
                )
            )
    problems += check_editor_files(project)
    return sorted(problems, key=lambda p: not p.error)


def check_editor_files(project: Project) -> list[Problem]:
    """What editors wrote in ``outputs/`` that a run will read differently from what they may
    expect: warnings, one line each (the stage that reads a broken file refuses it with the
    same line, and the other sessions go on)."""
    from . import corrections
    from . import speakers as speakers_stage
    from .errors import PipelineError
    from .store import Names

    store = project.store
    problems: list[Problem] = []
    sessions = set(store.sessions())
    for session_id in sorted(sessions):
        path = store.path(session_id, Names.TRANSCRIPT_TXT)
        if store.is_edited(session_id, Names.TRANSCRIPT_TXT):
            try:
                corrections.check_size(path)
                _, notes = corrections.read_edited_notes(path.read_text(encoding="utf-8", errors="replace"), (), path)
                problems += [Problem(path, note.reason, note.fix, line=note.line) for note in notes]
            except PipelineError as exc:
                problems.append(Problem(path, "", "", said=exc.one_line()))
        names_path = store.path(session_id, Names.SPEAKER_NAMES)
        voices_path = store.path(session_id, Names.SPEAKERS)
        if store.is_edited(session_id, Names.SPEAKER_NAMES) and voices_path.exists():
            try:
                text = names_path.read_text(encoding="utf-8")
                labels = {v.label for v in speakers_stage.from_json(store.read_text(session_id, Names.SPEAKERS), voices_path).voices}
                for label in speakers_stage.read_names(text, names_path):
                    if label not in labels:
                        problems.append(
                            Problem(
                                names_path,
                                f"{label} is not a voice of this session, it is ignored",
                                f"use one of: {', '.join(sorted(labels))}",
                                line=line_matching(text, rf"^\s*{label}\s*="),
                            )
                        )
            except PipelineError as exc:
                problems.append(Problem(names_path, "", "", said=exc.one_line()))
        synthesis = store.path(session_id, Names.SYNTHESIS)
        if store.is_edited(session_id, Names.SYNTHESIS) and not synthesis.read_text(encoding="utf-8", errors="replace").strip():
            problems.append(
                Problem(
                    synthesis,
                    "is empty: the session's page will show no synthesis",
                    "undo the edit, or delete the file and run again for a new draft",
                )
            )
    curation = project.recordings_dir / CURATION_FILE
    unknown = sorted(set(project.curation.sessions) - sessions - {s.id for s in project.catalogue.sessions})
    if unknown and curation.exists():
        text = curation.read_text(encoding="utf-8-sig")
        for session_id in unknown:
            problems.append(
                Problem(
                    curation,
                    f"[sessions.{session_id}] is not a session of this series, it is ignored",
                    f"use a session id: {', '.join(sorted(sessions)) or 'none yet'}",
                    line=line_matching(text, rf"\[\s*sessions\.\"?{re.escape(session_id)}"),
                )
            )
    return problems
