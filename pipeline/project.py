"""What a run works on: the project (recordings, catalogue, settings, ``outputs/``) and the
words of a plan (a step's state). Below the stages and the planner, so that both use them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import Catalogue, Session
from .curation import KeywordCuration
from .errors import RecordingError
from .media import MEDIA_SUFFIXES
from .settings import Settings
from .store import Store
from .vocabulary import Term


class State(str, enum.Enum):
    """Where a step stands."""

    DONE = "done"
    STALE = "stale"
    MISSING = "missing"
    WAITING = "waiting"
    INTERRUPTED = "interrupted"
    RUNNING = "running"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Step:
    """One stage of one session (or of the series)."""

    stage: str
    state: State
    reason: str = ""
    inputs: str = ""
    seconds: float | None = None

    @property
    def todo(self) -> bool:
        """True when a run would (re)do this step."""
        return self.state is not State.DONE


@dataclass(frozen=True)
class SessionPlan:
    """A session's steps, and the recording it comes from (None: only its outputs exist)."""

    session: Session
    recording: Path | None
    steps: tuple[Step, ...]

    def step(self, stage: str) -> Step:
        """The step of a stage."""
        return next(s for s in self.steps if s.stage == stage)

    @property
    def next_run(self) -> str:
        """The stages a plain ``pipeline run`` would (re)do, or « nothing »."""
        todo = [("resume " if s.state is State.INTERRUPTED else "") + s.stage for s in self.steps if s.todo]
        return ", ".join(todo) if todo else "nothing"


@dataclass(frozen=True)
class Plan:
    """Every session's steps, the series-wide ones, and who holds ``outputs/`` now."""

    sessions: tuple[SessionPlan, ...]
    series: tuple[Step, ...]
    running: str | None = None


@dataclass(frozen=True)
class Source:
    """A recording and the session it feeds (``error`` when it cannot be used)."""

    path: Path
    session: Session
    error: str = ""


@dataclass(frozen=True)
class Project:
    """What a run works on: the recordings, the catalogue, the settings and ``outputs/``."""

    recordings_dir: Path
    catalogue: Catalogue
    settings: Settings
    store: Store
    explicit: tuple[Path, ...] | None = None
    """Recordings named on the command line (else: every media file of ``recordings_dir``)."""
    glossary: tuple[Term, ...] = ()
    """The series' glossary (``glossary.toml`` beside the catalogue)."""
    curation: KeywordCuration = KeywordCuration()
    """Keywords editors pinned and banned (``keywords.toml`` beside the catalogue)."""
    _scanned: dict[object, tuple[Source, ...]] = field(default_factory=dict, init=False, compare=False, repr=False)
    """The recordings folder as last scanned, by its modification time: one scan per change
    of the folder, however many times a run asks for a session."""

    @classmethod
    def load(
        cls, recordings_dir: Path, outputs: Path, settings: Settings | None = None, explicit: tuple[Path, ...] | None = None
    ) -> Project:
        """The project of a recordings folder: its catalogue, settings (``settings``: already
        read and overridden), glossary and keyword curation, and the store of ``outputs``."""
        from .catalogue import load_catalogue
        from .curation import CURATION_FILE, read_curation
        from .glossary import GLOSSARY_FILE, read_glossary
        from .settings import load_settings

        return cls(
            recordings_dir,
            load_catalogue(recordings_dir),
            settings if settings is not None else load_settings(recordings_dir),
            Store(outputs),
            explicit,
            read_glossary(recordings_dir / GLOSSARY_FILE),
            read_curation(recordings_dir / CURATION_FILE),
        )

    def recordings(self) -> list[Path]:
        """The recordings this project transcribes."""
        if self.explicit is not None:
            return list(self.explicit)
        return find_recordings(self.recordings_dir) if self.recordings_dir.is_dir() else []

    def sources(self) -> list[Source]:
        """Each recording with its session; two recordings for one session id are an error
        for the second (it would overwrite the first's outputs)."""
        try:
            key: object = (self.explicit, self.recordings_dir.stat().st_mtime_ns)
        except OSError:
            key = (self.explicit, None)
        if key not in self._scanned:
            self._scanned.clear()
            self._scanned[key] = tuple(self._scan())
        return list(self._scanned[key])

    def _scan(self) -> list[Source]:
        seen: dict[str, Path] = {}
        result = []
        for path in self.recordings():
            session = self.catalogue.session_for(path)
            first = seen.setdefault(session.id, path)
            error = ""
            if first != path:
                error = RecordingError(
                    path,
                    f"maps to session id '{session.id}', already used by {first.name}",
                    "rename one of the files or give it an entry with its own id in sessions.toml",
                ).one_line()
            result.append(Source(path, session, error))
        return result

    def session(self, session_id: str) -> Session:
        """The catalogue entry of a session id (a minimal one when it has none)."""
        for source in self.sources():
            if source.session.id == session_id and not source.error:
                return source.session
        return self.catalogue.session_by_id(session_id)


def find_recordings(folder: Path) -> list[Path]:
    """Media files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith("."))


# -- each stage's fingerprint, from the stage's own inputs(...) ---------------------------
