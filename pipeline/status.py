"""Where each session stands, stage by stage, and what the next run would do.

Read-only: it hashes recordings and reads ``outputs/`` but loads no model and writes nothing.
A stage is ``done`` when its recorded inputs match today's, ``stale`` when they changed,
``missing`` when it never ran, ``interrupted`` when a killed transcription left a checkpoint
(the next run resumes it), ``failed`` with its reason from the last run, and ``running`` while
another run holds ``outputs/``.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .catalogue import Catalogue, Session
from .errors import PipelineError
from .keywords import KeywordOptions, document_frequencies
from .media import probe
from .runner import (
    RunReport,
    find_recordings,
    keywords_inputs,
    stored_candidates,
    synthesis_inputs,
    transcribe_inputs,
)
from .store import Store, fingerprint
from .synthesis import SynthesisOptions
from .transcribe import TranscriptionOptions, build_vocabulary

STAGES = ("transcribe", "keywords", "synthesis")
LAST_RUN = ".last-run.json"


@dataclass(frozen=True)
class StageStatus:
    """One stage of one session."""

    stage: str
    state: str
    detail: str = ""
    seconds: float | None = None


@dataclass(frozen=True)
class SessionStatus:
    """One session: its stages and what a rerun would do."""

    session_id: str
    recording: str
    stages: tuple[StageStatus, ...]

    @property
    def next_run(self) -> str:
        """The stages a plain ``pipeline run`` would (re)do, or « nothing »."""
        todo = [s.stage for s in self.stages if s.state != "done"]
        if any(s.stage == "transcribe" and s.state == "interrupted" for s in self.stages):
            todo[0] = "resume transcribe"
        return ", ".join(todo) if todo else "nothing"


def record_last_run(store: Store, report: RunReport) -> None:
    """Keep the last run's results (failures and durations) for ``pipeline status``."""
    from .store import atomic_write

    rows = [{"session_id": r.session_id, "recording": r.recording.name, "stage": r.stage, "status": r.status, "error": r.error, "seconds": round(r.wall_seconds, 2)} for r in report.results]
    atomic_write(store.root / LAST_RUN, (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode())


def _last_run(store: Store) -> dict[tuple[str, str], dict[str, object]]:
    try:
        rows = json.loads((store.root / LAST_RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {(str(r["session_id"]), str(r["stage"])): r for r in rows if isinstance(r, dict)}


def holder(store: Store) -> str | None:
    """Who holds ``outputs/`` right now, or None."""
    path = store.root / ".pipeline.lock"
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "another run"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def session_status(
    store: Store,
    catalogue: Catalogue,
    recordings_dir: Path,
    options: TranscriptionOptions | None = None,
    keyword_options: KeywordOptions | None = None,
    synthesis_options: SynthesisOptions | None = None,
) -> list[SessionStatus]:
    """Every recording's session and every session in ``outputs/``, stage by stage."""
    options = options or TranscriptionOptions()
    keyword_options = keyword_options or KeywordOptions()
    synthesis_options = synthesis_options or SynthesisOptions()
    last = _last_run(store)
    running = holder(store)
    recordings = find_recordings(recordings_dir) if recordings_dir.is_dir() else []
    sessions: dict[str, tuple[Session, Path | None]] = {}
    for path in recordings:
        session = catalogue.session_for(path)
        sessions[session.id] = (session, path)
    for session_id in store.sessions_with("state.json"):
        if session_id not in sessions:
            known = next((s for s in catalogue.sessions if s.id == session_id), None)
            sessions[session_id] = (known or Session(id=session_id, title=session_id, recording=""), None)

    series = store.sessions_with("transcript.json")
    shas = {s: store.sha256(s, "transcript.json") for s in series}
    lemma_sets = {s: stored_candidates(store, s, shas[s], keyword_options) for s in series}
    series_digest = fingerprint(dict(document_frequencies(v for v in lemma_sets.values() if v is not None)))
    series_changed = any(v is None for v in lemma_sets.values())

    result = []
    for session_id, (session, recording) in sorted(sessions.items()):
        recorded = store.state(session_id)
        state = recorded.get("stages", {})
        stages: list[StageStatus] = []

        # transcribe
        if recording is None:
            stages.append(StageStatus("transcribe", "done" if "transcribe" in state else "missing", "recording not in recordings/"))
        else:
            try:
                checked = probe(recording)
                vocabulary = build_vocabulary(session, catalogue.themes) if options.use_vocabulary else ""
                inputs = fingerprint(transcribe_inputs(session, checked.sha256, options, vocabulary))
                partial = store.read_checkpoint(session_id, "transcribe", inputs)
                if store.is_fresh(session_id, "transcribe", inputs):
                    stages.append(StageStatus("transcribe", "done", seconds=_seconds(last, session_id, "transcribe")))
                elif partial:
                    share = partial[-1]["end"] / checked.duration if checked.duration else 0.0
                    stages.append(StageStatus("transcribe", "running" if running else "interrupted", f"{share:.0%} transcribed"))
                else:
                    stages.append(_failed(last, session_id, "transcribe") or StageStatus("transcribe", "stale" if "transcribe" in state else "missing"))
            except PipelineError as exc:
                stages.append(StageStatus("transcribe", "failed", exc.one_line()))
        # keywords
        if session_id not in shas:
            stages.append(StageStatus("keywords", "missing", "needs a transcript"))
        else:
            inputs = fingerprint(keywords_inputs(shas[session_id], catalogue, catalogue.session_by_id(session_id).title, keyword_options, series_digest))
            if not series_changed and store.is_fresh(session_id, "keywords", inputs):
                stages.append(StageStatus("keywords", "done", seconds=_seconds(last, session_id, "keywords")))
            else:
                stages.append(_failed(last, session_id, "keywords") or StageStatus("keywords", "stale" if "keywords" in state else "missing"))
        # synthesis
        if not store.path(session_id, "keywords.json").exists() or session_id not in shas:
            stages.append(StageStatus("synthesis", "missing", "needs keywords"))
        else:
            inputs = fingerprint(synthesis_inputs(shas[session_id], store.sha256(session_id, "keywords.json"), catalogue.session_by_id(session_id), catalogue, synthesis_options))
            edited = store.path(session_id, "synthesis.md").exists() and store.sha256(session_id, "synthesis.md") not in recorded.get("written", {}).get("synthesis.md", [])
            if store.is_fresh(session_id, "synthesis", inputs) and stages[-1].state == "done":
                stages.append(StageStatus("synthesis", "done", "edited by an editor" if edited else "", _seconds(last, session_id, "synthesis")))
            else:
                stages.append(_failed(last, session_id, "synthesis") or StageStatus("synthesis", "stale" if "synthesis" in state else "missing", "edited: a new draft would go beside it" if edited else ""))
        result.append(SessionStatus(session_id, recording.name if recording else "", tuple(stages)))
    return result


def _failed(last: dict[tuple[str, str], dict[str, object]], session_id: str, stage: str) -> StageStatus | None:
    row = last.get((session_id, stage))
    if row and row.get("status") == "failed":
        return StageStatus(stage, "failed", str(row.get("error", "")))
    return None


def _seconds(last: dict[tuple[str, str], dict[str, object]], session_id: str, stage: str) -> float | None:
    row = last.get((session_id, stage))
    value = row.get("seconds") if row else None
    return float(value) if isinstance(value, (int, float)) and row and row.get("status") != "up to date" else None


def as_dicts(statuses: Sequence[SessionStatus]) -> list[dict[str, object]]:
    """JSON-ready rows (for ``pipeline status --json``)."""
    return [{**asdict(s), "next_run": s.next_run} for s in statuses]
