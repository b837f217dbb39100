"""One planner: where each (session, stage) stands, and why.

``pipeline status`` prints the plan; ``pipeline run`` asks the same functions, step by step,
whether to run (the inputs of a later stage are only known once the earlier one has run).
A stage's state comes from its fingerprint, computed from the stage's own ``inputs(...)``:
``done`` when the recorded inputs match today's and its files are there, ``stale`` when they
changed, ``missing`` when it never ran, ``waiting`` when an earlier stage must run first,
``interrupted`` when a killed transcription left a checkpoint (the next run resumes it), and
``failed`` with the reason from the last run. Read-only: no model is loaded, nothing written.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from . import compose as compose_stage
from . import keywords as keywords_stage
from . import speakers as speakers_stage
from . import synthesis as synthesis_stage
from . import transcribe as transcribe_stage
from .catalogue import Catalogue, Session
from .curation import KeywordCuration
from .errors import PipelineError, RecordingError
from .keywords import document_frequencies
from .media import MEDIA_SUFFIXES, not_a_recording_file
from .models import model_identity
from .settings import Settings
from .store import Names, SessionState, Store, fingerprint
from .vocabulary import Term, terms_of

SESSION_STAGES = ("transcribe", "speakers", "transcript", "keywords", "synthesis", "archive")
SERIES_STAGES = ("publish",)
STAGES = ("transcribe", "speakers", "transcript", "keywords", "synthesis", "publish", "archive")
"""Every stage, in the order a run takes them."""


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

    def recordings(self) -> list[Path]:
        """The recordings this project transcribes."""
        if self.explicit is not None:
            return list(self.explicit)
        return find_recordings(self.recordings_dir) if self.recordings_dir.is_dir() else []

    def sources(self) -> list[Source]:
        """Each recording with its session; two recordings for one session id are an error
        for the second (it would overwrite the first's outputs)."""
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


def transcribe_fingerprint(project: Project, session: Session, recording: Path) -> str:
    """The transcription's fingerprint for a recording (hashes it, with a cache)."""
    options = project.settings.transcription
    unreadable = not_a_recording_file(recording)
    if unreadable:
        raise RecordingError(recording, *unreadable)
    try:
        sha = project.store.recording_sha256(recording)
    except OSError as exc:
        raise RecordingError(recording, f"cannot be read ({exc.strerror})", "check the file name and its permissions") from exc
    return fingerprint(transcribe_stage.inputs(sha, options, model_identity(options.model)))


def vocabulary_terms(project: Project, session_id: str) -> tuple[Term, ...]:
    """The vocabulary a session's transcript is corrected with."""
    return terms_of(project.session(session_id), project.glossary)


def speakers_fingerprint(project: Project, session_id: str) -> str:
    """The voices' fingerprint of a session whose decoding exists."""
    inputs = speakers_stage.inputs(project.store.sha256(session_id, Names.ASR), project.settings.speakers, project.session(session_id))
    return fingerprint(inputs)


def recording_of(project: Project, session_id: str, input_name: str) -> Path:
    """The recording a session was transcribed from (its catalogue entry, else its name)."""
    for source in project.sources():
        if source.session.id == session_id and not source.error:
            return source.path
    path = project.recordings_dir / input_name
    if not path.exists():
        raise RecordingError(
            path, "is not in the recordings folder, and telling voices apart needs it", "put it back, or pass --no-speakers"
        )
    return path


def speakers_of(project: Project, session_id: str) -> tuple[speakers_stage.Diarization | None, dict[str, str]]:
    """A session's voices and the names an editor gave them (None when speakers are off)."""
    store = project.store
    if not project.settings.speakers.enabled or not store.path(session_id, Names.SPEAKERS).exists():
        return None, {}
    found = speakers_stage.from_json(store.read_text(session_id, Names.SPEAKERS), store.path(session_id, Names.SPEAKERS))
    names = {}
    if store.path(session_id, Names.SPEAKER_NAMES).exists():
        names = speakers_stage.read_names(store.read_text(session_id, Names.SPEAKER_NAMES), store.path(session_id, Names.SPEAKER_NAMES))
    return found, names


def transcript_fingerprint(project: Project, session_id: str) -> str:
    """The publishable transcript's fingerprint of a session whose decoding exists."""
    store = project.store
    session = project.session(session_id)
    speakers = names = ""
    if project.settings.speakers.enabled:
        speakers = store.sha256(session_id, Names.SPEAKERS) if store.path(session_id, Names.SPEAKERS).exists() else ""
        names = store.sha256(session_id, Names.SPEAKER_NAMES) if store.path(session_id, Names.SPEAKER_NAMES).exists() else ""
    terms = vocabulary_terms(project, session_id)
    inputs = compose_stage.inputs(store.sha256(session_id, Names.ASR), terms, project.settings.vocabulary, session.title, speakers, names)
    # an editor's corrected transcript.txt is an input of the stage that reads it back
    edited = store.sha256(session_id, Names.TRANSCRIPT_TXT) if store.is_edited(session_id, Names.TRANSCRIPT_TXT) else ""
    return fingerprint({**inputs, "corrected_txt_sha256": edited})


@dataclass(frozen=True)
class Series:
    """The series' document frequencies (for keyword ranking), once every session's
    candidates are known; ``complete`` is False when some must be parsed again."""

    candidates: Mapping[str, tuple[str, ...]]
    complete: bool

    @functools.cached_property
    def frequencies(self) -> Mapping[str, int]:
        """In how many sessions each candidate lemma occurs."""
        return dict(document_frequencies(self.candidates.values()))

    def digest_for(self, session_id: str) -> str:
        """Fingerprint of what a session's ranking reads of the series: the number of
        sessions and the document frequencies of its own candidates. A correction in one
        session leaves the others up to date unless it changes a lemma they share."""
        own = self.candidates.get(session_id, ())
        return fingerprint({"documents": self.documents, "frequencies": {lemma: self.frequencies.get(lemma, 0) for lemma in own}})

    @property
    def documents(self) -> int:
        """Sessions in the series."""
        return len(self.candidates)


def stored_candidates(project: Project, session_id: str) -> tuple[str, ...] | None:
    """A session's candidate lemmas as its last keywords run recorded them (in the
    pipeline's own state, not in keywords.json, which an editor may touch), if made from
    its present transcript with today's options (else None: it must be parsed again)."""
    record = project.store.state(session_id).stages.get("keywords")
    if record is None or record.facts.get("candidates_of") != candidates_key(project, session_id):
        return None
    candidates = record.facts.get("candidates")
    return tuple(str(c) for c in candidates) if isinstance(candidates, list) else None


def candidates_key(project: Project, session_id: str) -> str:
    """What a session's candidates depend on: its transcript and the keyword options."""
    return fingerprint({"transcript": project.store.sha256(session_id, Names.TRANSCRIPT), "options": keywords_options_digest(project)})


def keywords_options_digest(project: Project) -> str:
    """Fingerprint of the keyword options (recorded in keywords.json)."""
    from dataclasses import asdict

    return fingerprint({"options": asdict(project.settings.keywords), "version": keywords_stage.KEYWORDS_VERSION})


def stored_series(project: Project) -> Series:
    """The series as the stored keywords describe it (no parsing)."""
    known = {s: stored_candidates(project, s) for s in project.store.sessions_with(Names.TRANSCRIPT)}
    return Series({s: c for s, c in known.items() if c is not None}, all(c is not None for c in known.values()))


def keywords_fingerprints(project: Project, session_id: str, series: Series) -> tuple[str, str]:
    """The keywords' fingerprint of a session with a transcript, and the part of it that
    does not depend on the rest of the series (its own transcript, title, options)."""
    store = project.store
    inputs = keywords_stage.inputs(
        store.sha256(session_id, Names.TRANSCRIPT),
        project.catalogue.themes,
        project.session(session_id).title,
        project.settings.keywords,
        series.digest_for(session_id),
        [s.name for s in project.session(session_id).speakers],
        project.session(session_id).themes,
    )
    own = fingerprint({k: v for k, v in inputs.items() if k != "series"})
    curation = project.curation.of(session_id)
    if curation:  # an editor's pins and bans: the ranking changes, not the candidates
        inputs = {**inputs, "curation": {"pin": list(curation.pin), "ban": list(curation.ban)}}
    return fingerprint(inputs), own


def synthesis_fingerprint(project: Project, session_id: str) -> str:
    """The draft synthesis' fingerprint of a session with a transcript and keywords."""
    store = project.store
    inputs = synthesis_stage.inputs(
        store.sha256(session_id, Names.TRANSCRIPT),
        store.sha256(session_id, Names.KEYWORDS),
        project.session(session_id),
        project.catalogue.themes,
        project.settings.synthesis,
    )
    return fingerprint(inputs)


ARCHIVE_VERSION = 1


def archive_fingerprint(project: Project, session_id: str) -> str:
    """What a session's bag holds: its files, its catalogue entry and the archive options."""
    from dataclasses import asdict

    store = project.store
    files = {name: store.sha256(session_id, name) for name in Names.ARCHIVED if store.path(session_id, name).exists()}
    return fingerprint(
        {
            "files": files,
            "session": asdict(project.session(session_id)),
            "options": asdict(project.settings.archive),
            "version": ARCHIVE_VERSION,
        }
    )


def publish_fingerprint(project: Project) -> str:
    """Everything the site is built from: every session's published files, the catalogue,
    the recordings it links, the options and the pipeline version (templates)."""
    from dataclasses import asdict

    store = project.store
    sessions = {}
    for session_id in store.sessions_with(Names.SYNTHESIS):
        names = (Names.SYNTHESIS, Names.TRANSCRIPT, Names.KEYWORDS, *Names.DOWNLOADS)
        sessions[session_id] = {name: store.sha256(session_id, name) for name in names if store.path(session_id, name).exists()}
    media = {}
    for session in project.catalogue.sessions:
        path = project.recordings_dir / session.recording
        if path.is_file():
            stat = path.stat()
            media[session.id] = f"{stat.st_size}@{stat.st_mtime_ns}"
    return fingerprint(
        {
            "sessions": sessions,
            "catalogue": asdict(project.catalogue),
            "media": media,
            "options": asdict(project.settings.publish),
            "version": __version__,
        }
    )


# -- the plan -------------------------------------------------------------------------------


def _recorded(
    state: SessionState, store: Store, session_id: str, stage: str, inputs: str, last: Mapping[tuple[str, str], Mapping[str, object]]
) -> Step:
    """A step whose inputs are known: done, interrupted, failed, stale or missing."""
    if store.is_fresh(session_id, stage, inputs):
        row = last.get((session_id, stage))
        seconds = row.get("seconds") if row and row.get("status") not in ("up to date", "failed") else None
        return Step(
            stage,
            State.DONE,
            _edits(store, session_id, stage, state),
            inputs,
            float(seconds) if isinstance(seconds, (int, float)) else None,
        )
    row = last.get((session_id, stage))
    if row and row.get("status") == "failed" and row.get("inputs") in (inputs, None, ""):
        return Step(stage, State.FAILED, str(row.get("error", "")), inputs)
    if stage in state.stages:
        return Step(stage, State.STALE, "its inputs changed", inputs)
    return Step(stage, State.MISSING, "", inputs)


def _edits(store: Store, session_id: str, stage: str, state: SessionState) -> str:
    record = state.stages.get(stage)
    edited = [name for name in (record.files if record else {}) if store.is_edited(session_id, name, state)]
    return f"edited by an editor: {', '.join(edited)}" if edited else ""


def _keywords_step(
    project: Project,
    state: SessionState,
    last: Mapping[tuple[str, str], Mapping[str, object]],
    session_id: str,
    series: Series,
    pending: Sequence[str],
) -> Step:
    """Keywords are ranked against the whole series: when another session's transcript or
    candidates are about to change, a session whose own inputs did not change waits."""
    inputs, own = keywords_fingerprints(project, session_id, series)
    step = _recorded(state, project.store, session_id, "keywords", inputs, last)
    record = state.stages.get("keywords")
    own_unchanged = record is not None and record.facts.get("own") == own
    uncertain = [s for s in pending if s != session_id] or ([] if series.complete else ["a session whose keywords must be parsed again"])
    if uncertain and own_unchanged and step.state in (State.DONE, State.STALE):
        return Step("keywords", State.WAITING, f"the series' word frequencies may change ({', '.join(uncertain[:3])})", inputs)
    if step.state is State.STALE and own_unchanged:
        return Step("keywords", State.STALE, "the series changed (word frequencies)", inputs)
    return step


def transcribe_step(project: Project, session: Session, recording: Path | None, error: str = "") -> Step:
    """The transcription step of a session (``error``: its recording cannot be used)."""
    store = project.store
    if error:
        return Step("transcribe", State.FAILED, error)
    if recording is None:
        has = store.path(session.id, Names.ASR).exists()
        return Step("transcribe", State.DONE if has else State.MISSING, "recording not in recordings/")
    try:
        inputs = transcribe_fingerprint(project, session, recording)
    except PipelineError as exc:
        return Step("transcribe", State.FAILED, exc.one_line())
    step = _recorded(store.state(session.id), store, session.id, "transcribe", inputs, store.last_run())
    partial = store.read_checkpoint(session.id, "transcribe", inputs) if step.todo else []
    if partial:
        running = store.holder()
        step = Step("transcribe", State.RUNNING if running else State.INTERRUPTED, f"{partial[-1]['end']:.0f} s transcribed", inputs)
    return step


def later_steps(project: Project, session_id: str, transcription: Step, series: Series, pending: Sequence[str] = ()) -> tuple[Step, ...]:
    """The publishable transcript, keywords, synthesis and archive of a session, each
    waiting for the one before. ``pending``: sessions whose transcript a run would redo
    (their candidates may change the whole series' keyword ranking)."""
    store = project.store
    state = store.state(session_id)
    last = store.last_run()
    if project.settings.speakers.enabled:
        speakers = _after(project, state, last, session_id, "speakers", transcription, speakers_fingerprint, (Names.ASR,))
    else:
        speakers = Step("speakers", State.DONE, "off (--no-speakers)")
    transcript = _after(
        project, state, last, session_id, "transcript", speakers if speakers.todo else transcription, transcript_fingerprint, (Names.ASR,)
    )
    if transcript.todo:
        keywords = Step("keywords", State.WAITING, "after transcript")
    elif not store.path(session_id, Names.TRANSCRIPT).exists():
        keywords = Step("keywords", State.WAITING, "needs a transcript")
    else:
        keywords = _keywords_step(project, state, last, session_id, series, pending)
    synthesis = _after(project, state, last, session_id, "synthesis", keywords, synthesis_fingerprint, (Names.KEYWORDS,))
    archive = _after(project, state, last, session_id, "archive", synthesis, archive_fingerprint, (Names.TRANSCRIPT,))
    return speakers, transcript, keywords, synthesis, archive


def _after(
    project: Project,
    state: SessionState,
    last: Mapping[tuple[str, str], Mapping[str, object]],
    session_id: str,
    stage: str,
    before: Step,
    inputs_of: Callable[[Project, str], str],
    needs: Sequence[str],
) -> Step:
    """A step that needs files an earlier step writes: waiting while that step has work."""
    store = project.store
    if before.todo:
        return Step(stage, State.WAITING, f"after {before.stage}")
    missing = [name for name in needs if not store.path(session_id, name).exists()]
    if missing:
        return Step(stage, State.WAITING, f"needs {missing[0]}")
    return _recorded(state, store, session_id, stage, inputs_of(project, session_id), last)


def publish_step(project: Project, sessions: Iterable[SessionPlan] = ()) -> Step:
    """The site: done when built from today's inputs (sessions left out are named)."""
    waiting = [p.session.id for p in sessions if p.step("synthesis").todo and p.step("synthesis").state is not State.FAILED]
    if waiting:
        return Step("publish", State.WAITING, f"after synthesis of {len(waiting)} session(s)")
    if not project.store.sessions_with(Names.SYNTHESIS):
        return Step("publish", State.WAITING, "needs a synthesis")
    inputs = publish_fingerprint(project)
    record = project.store.series_state().get("publish")
    if record is not None and record.inputs == inputs and project.store.site_dir.is_dir():
        left_out = record.facts.get("skipped") or []
        return Step("publish", State.DONE, f"left out of the site: {', '.join(map(str, left_out))}" if left_out else "", inputs)
    row = project.store.last_run().get(("", "publish"))
    if row and row.get("status") == "failed" and row.get("inputs") in (inputs, None, ""):
        return Step("publish", State.FAILED, str(row.get("error", "")), inputs)
    return Step("publish", State.STALE if record else State.MISSING, "", inputs)


def make_plan(project: Project) -> Plan:
    """Every recording's session and every session in ``outputs/``, stage by stage."""
    entries: dict[str, tuple[Session, Path | None, Step]] = {}
    for source in project.sources():
        key = source.session.id if not source.error else f"{source.session.id} ({source.path.name})"
        entries[key] = (source.session, source.path, transcribe_step(project, source.session, source.path, source.error))
    if project.explicit is None:
        for session_id in project.store.sessions():
            if session_id not in entries:
                session = project.catalogue.session_by_id(session_id)
                entries[session_id] = (session, None, transcribe_step(project, session, None))
    series = stored_series(project)
    later = {k: later_steps(project, session.id, step, series) for k, (session, _, step) in entries.items()}
    # a session whose transcript will change may change everybody's keyword ranking
    pending = [
        entries[k][0].id
        for k, steps in later.items()
        if steps[1].todo and State.FAILED not in (steps[0].state, steps[1].state, entries[k][2].state)
    ]
    if pending:
        later = {k: later_steps(project, session.id, step, series, pending) for k, (session, _, step) in entries.items()}
    sessions = tuple(SessionPlan(entries[k][0], entries[k][1], (entries[k][2], *later[k])) for k in sorted(entries))
    return Plan(sessions, (publish_step(project, sessions),), project.store.holder())
