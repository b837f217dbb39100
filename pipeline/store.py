"""The only module that knows the ``outputs/`` layout.

Every write is atomic (temporary file in the same folder, fsync, rename), so a crash never
leaves a half-written file. ``state.json`` records, per stage, the fingerprint of the inputs
and the SHA-256 of each file written: a file whose content no longer matches was edited by
someone, and is never overwritten; the new version goes beside it as ``NAME.draft.EXT``.
Folders that are rebuilt whole (the site, an archive bag) are built in a staging folder and
swapped in by renames; staging folders left by a killed run are swept by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .catalogue import SAFE_ID
from .errors import OutputError
from .media import sha256_file


class Names:
    """File names of the ``outputs/`` layout, in one place."""

    ASR = "asr.json"
    SPEAKERS = "speakers.json"
    SPEAKER_NAMES = "speakers.toml"
    VOICEPRINTS = "voiceprints.json"
    TRANSCRIPT = "transcript.json"
    TRANSCRIPT_TXT = "transcript.txt"
    TRANSCRIPT_SRT = "transcript.srt"
    TRANSCRIPT_VTT = "transcript.vtt"
    KEYWORDS = "keywords.json"
    KEYWORDS_MD = "keywords.md"
    SYNTHESIS = "synthesis.md"
    EVENTS = "events.jsonl"
    REVIEW = "review.md"
    STATE = "state.json"
    SITE = "site"
    ARCHIVE = "archive"
    LOCK = ".pipeline.lock"
    LAST_RUN = ".last-run.json"
    SERIES_STATE = ".series-state.json"
    HASH_CACHE = ".hash-cache.json"
    SEALS = ".seals.json"
    STAGING_PREFIX = ".staging-"
    ORIGINALS = ".written"
    """Per session, the last version the pipeline wrote of each editable file: the base an
    editor's edit is compared with (which « Nom : » heads the editor changed)."""

    RENDERINGS = {"txt": TRANSCRIPT_TXT, "srt": TRANSCRIPT_SRT, "vtt": TRANSCRIPT_VTT}
    """Text renderings of the transcript, by suffix."""
    DOWNLOADS = (TRANSCRIPT_TXT, TRANSCRIPT_SRT, TRANSCRIPT_VTT, TRANSCRIPT, KEYWORDS_MD)
    """What readers may download from a session page."""
    ARCHIVED = (
        ASR,
        SPEAKERS,
        SPEAKER_NAMES,
        TRANSCRIPT,
        TRANSCRIPT_TXT,
        TRANSCRIPT_VTT,
        TRANSCRIPT_SRT,
        KEYWORDS,
        KEYWORDS_MD,
        SYNTHESIS,
    )
    """What an archive bag carries of a session folder."""
    EDITABLE = (TRANSCRIPT_TXT, SPEAKER_NAMES, SYNTHESIS)
    """Files editors are invited to edit: a change is an edit to apply, not damage."""


def draft_name(name: str) -> str:
    """Where a new version goes when an editor changed ``name`` (``synthesis.draft.md``)."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.draft.{suffix}" if dot else f"{name}.draft"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; outputs are published, so give them the usual umask mode.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_error(exc: OSError, where: Path) -> OutputError:
    """The one-line error for a failed write (disk full, permissions, read-only folder)."""
    return OutputError(
        exc.filename or where, f"cannot write outputs ({exc.strerror})", "free disk space or fix the folder's permissions, then run again"
    )


HASHES_KEPT = 8  # per file: the last hashes the pipeline wrote there


def _remove_temporaries(folder: Path, names: Iterable[str]) -> None:
    """Delete what a killed writer left half-written (``.NAME.*.tmp``) for these names."""
    for name in names:
        for leftover in folder.glob(f".{name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """A stable hash of a stage's inputs (JSON with sorted keys; a file name that is not
    UTF-8 is hashed as its bytes)."""
    return sha256_bytes(json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogateescape"))


STATE_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class StageRecord:
    """What a stage left in ``state.json``: the fingerprint of its inputs, the SHA-256 of
    each file it is responsible for (the editor's version when an edit was kept), and facts."""

    inputs: str
    files: Mapping[str, str] = field(default_factory=dict)
    finished_utc: str = ""
    pipeline_version: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionState:
    """A session's ``state.json``: per stage its record, per file the hashes the pipeline
    itself wrote there (a file with another hash was edited by someone)."""

    session_id: str
    stages: Mapping[str, StageRecord] = field(default_factory=dict)
    written: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    schema_version: int = STATE_SCHEMA_VERSION

    def to_json(self) -> str:
        """``state.json`` text."""
        body = {
            "schema_version": self.schema_version,
            "session_id": self.session_id,
            "stages": {name: _record_dict(record) for name, record in self.stages.items()},
            "written": {name: list(digests) for name, digests in self.written.items()},
        }
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _record_dict(record: StageRecord) -> dict[str, Any]:
    return {
        "inputs": record.inputs,
        "files": dict(record.files),
        "finished_utc": record.finished_utc,
        "pipeline_version": record.pipeline_version,
        "facts": dict(record.facts),
    }


def parse_state(data: Any, session_id: str) -> SessionState:
    """A ``state.json`` document as a typed record; version 1 (untyped, before schema
    versions) is migrated; anything unreadable is an empty state (every stage reruns)."""
    if not isinstance(data, dict):
        return SessionState(session_id)
    version = data.get("schema_version", 1)
    stages: dict[str, StageRecord] = {}
    for name, raw in (data.get("stages") or {}).items():
        if not isinstance(raw, dict) or not isinstance(raw.get("inputs"), str):
            continue
        files = {str(k): str(v) for k, v in (raw.get("files") or {}).items()}
        if version == 1:  # stage-specific keys sat beside inputs and files
            facts = {k: v for k, v in raw.items() if k not in {"inputs", "files", "finished_utc", "pipeline_version"}}
        else:
            facts = dict(raw.get("facts") or {})
        stages[name] = StageRecord(raw["inputs"], files, str(raw.get("finished_utc", "")), str(raw.get("pipeline_version", "")), facts)
    written = {str(k): tuple(str(d) for d in v) for k, v in (data.get("written") or {}).items() if isinstance(v, list)}
    if "written" not in data:  # a state from before write-ahead: its records are ours
        for record in stages.values():
            for name, digest in record.files.items():
                written[name] = (*written.get(name, ()), digest)
    return SessionState(session_id, stages, written)


@dataclass(frozen=True)
class Written:
    """Where a file ended up; ``kept_edit`` when an edited file was left alone."""

    path: Path
    kept_edit: bool = False


@dataclass(frozen=True)
class Store:
    """The ``outputs/`` folder: one sub-folder per session id, the site, the archive."""

    root: Path

    # -- layout -----------------------------------------------------------------------
    def session_dir(self, session_id: str) -> Path:
        """The folder of a session; refuses ids that could escape ``outputs/``."""
        if not SAFE_ID.match(session_id):
            raise OutputError(self.root / session_id, f"unsafe session id {session_id!r}", "use lower-case letters, digits and dashes")
        return self.root / session_id

    def path(self, session_id: str, name: str) -> Path:
        """Where file ``name`` of a session lives."""
        return self.session_dir(session_id) / name

    @property
    def site_dir(self) -> Path:
        """The published site."""
        return self.root / Names.SITE

    @property
    def archive_dir(self) -> Path:
        """The folder of archive bags."""
        return self.root / Names.ARCHIVE

    def bag_dir(self, session_id: str) -> Path:
        """The archive bag of a session."""
        self.session_dir(session_id)  # checks the id
        return self.archive_dir / session_id

    def sessions_with(self, name: str) -> list[str]:
        """Ids of the sessions that have file ``name``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{name}") if SAFE_ID.match(p.parent.name))

    def sessions(self) -> list[str]:
        """Ids of every session with a state or a transcript."""
        found = set(self.sessions_with(Names.STATE)) | set(self.sessions_with(Names.ASR)) | set(self.sessions_with(Names.TRANSCRIPT))
        return sorted(found)

    def sha256(self, session_id: str, name: str) -> str:
        """SHA-256 of a session's file (as it is now, edits included)."""
        return sha256_bytes(self.path(session_id, name).read_bytes())

    def read_text(self, session_id: str, name: str) -> str:
        """A session's file as text; one-line error when it cannot be read."""
        path = self.path(session_id, name)
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise OutputError(path, "is not UTF-8 text", "save it as UTF-8, or delete it and run again") from exc
        except OSError as exc:
            raise OutputError(path, f"cannot be read ({exc.strerror})", "run `pipeline run` to make it, or fix its permissions") from exc

    # -- state --------------------------------------------------------------------------
    def state(self, session_id: str) -> SessionState:
        """The recorded state of a session (empty if none or unreadable)."""
        try:
            data = json.loads(self.path(session_id, Names.STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return SessionState(session_id)
        return parse_state(data, session_id)

    def is_fresh(self, session_id: str, stage: str, inputs_fingerprint: str) -> bool:
        """True when ``stage`` ran on the same inputs and its files are still there."""
        record = self.state(session_id).stages.get(stage)
        if record is None or record.inputs != inputs_fingerprint:
            return False
        folder = self.session_dir(session_id)
        return all((folder / name).exists() for name in record.files)

    def is_edited(self, session_id: str, name: str, state: SessionState | None = None) -> bool:
        """True when the file exists and the pipeline never wrote its present content."""
        path = self.path(session_id, name)
        if not path.exists():
            return False
        state = state or self.state(session_id)
        return sha256_bytes(path.read_bytes()) not in state.written.get(name, ())

    def original(self, session_id: str, name: str) -> str | None:
        """The last version of an editable file the pipeline wrote (None when unknown: a
        session written before these copies were kept)."""
        path = self.session_dir(session_id) / Names.ORIGINALS / name
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def write_stage(
        self, session_id: str, stage: str, inputs_fingerprint: str, files: Mapping[str, str], record: StageRecord | None = None
    ) -> list[Written]:
        """Write a stage's files atomically, guard edited ones, then record the stage.

        Write-ahead: the hashes about to be written are recorded in ``state.json`` first, so
        that after a crash between a file and the record, the file is still known as the
        pipeline's own and not mistaken for an editor's edit. An edited file is left alone and
        the new version goes beside it as ``NAME.draft.EXT`` (itself guarded the same way).
        """
        folder = self.session_dir(session_id)
        state = self.state(session_id)
        ours: dict[str, tuple[str, ...]] = dict(state.written)
        plan: list[tuple[Path, bytes, bool]] = []
        hashes = {}
        for name, text in files.items():
            data = text.encode("utf-8")
            digest = sha256_bytes(data)
            target = folder / name
            current = sha256_bytes(target.read_bytes()) if target.exists() else None
            edited = current is not None and current != digest and current not in ours.get(name, ())
            if edited:
                target = folder / draft_name(name)
                draft_now = sha256_bytes(target.read_bytes()) if target.exists() else None
                if draft_now is not None and draft_now != digest and draft_now not in ours.get(target.name, ()):
                    raise OutputError(
                        target, "was edited too, and a new draft would overwrite it", f"merge it into {name} or delete it, then run again"
                    )
            plan.append((target, data, edited))
            ours[target.name] = (*ours.get(target.name, ()), digest)[-HASHES_KEPT:]
            # For an edited file, the stage records the editor's version as its output.
            hashes[name] = current if edited and current else digest
        base = record or StageRecord(inputs_fingerprint)
        try:
            _remove_temporaries(folder, [*files, *(target.name for target, _, _ in plan), Names.STATE])
            self._write_state(replace(state, written=ours))
            for target, data, edited in plan:
                atomic_write(target, data)
                if target.name in Names.EDITABLE and not edited:
                    atomic_write(folder / Names.ORIGINALS / target.name, data)
            stages = dict(state.stages)
            stages[stage] = replace(base, inputs=inputs_fingerprint, files=hashes)
            self._write_state(SessionState(session_id, stages, ours))
        except OSError as exc:
            raise write_error(exc, folder) from exc
        return [Written(target, kept_edit=edited) for target, _, edited in plan]

    def events(self, session_id: str) -> list[dict[str, Any]]:
        """The session's recorded events (``events.jsonl``), oldest first."""
        path = self.path(session_id, Names.EVENTS)
        if not path.exists():
            return []
        found = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line an editor broke by hand: the others still count
            if isinstance(item, dict):
                found.append(item)
        return found

    def add_event(self, session_id: str, event: Mapping[str, Any]) -> None:
        """Append one event to ``events.jsonl`` (the whole file rewritten atomically, so that
        a crash leaves either the old log or the new one)."""
        path = self.path(session_id, Names.EVENTS)
        before = path.read_bytes() if path.exists() else b""
        if before and not before.endswith(b"\n"):
            before += b"\n"
        try:
            atomic_write(path, before + json.dumps(dict(event), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
        except OSError as exc:
            raise write_error(exc, path.parent) from exc

    def accept_edits(self, session_id: str, stage: str) -> None:
        """Record the editor's present version of the files of ``stage`` editors are invited
        to edit (``Names.EDITABLE``), when the stage itself has nothing to redo: ``verify``
        then checks them against what the editor left, and a later change is a new edit."""
        state = self.state(session_id)
        record = state.stages.get(stage)
        if record is None:
            return
        files = dict(record.files)
        for name in files:
            path = self.path(session_id, name)
            if name in Names.EDITABLE and path.exists():
                files[name] = sha256_bytes(path.read_bytes())
        if files != dict(record.files):
            self.record_stage(session_id, stage, replace(record, files=files))

    def record_stage(self, session_id: str, stage: str, record: StageRecord) -> None:
        """Record a stage that writes its files elsewhere (an archive bag)."""
        state = self.state(session_id)
        try:
            self._write_state(replace(state, stages={**state.stages, stage: record}))
        except OSError as exc:
            raise write_error(exc, self.session_dir(session_id)) from exc

    def _write_state(self, state: SessionState) -> None:
        data = state.to_json().encode()
        atomic_write(self.path(state.session_id, Names.STATE), data)
        self._seal(state.session_id, sha256_bytes(data))

    def seals(self) -> dict[str, str]:
        """The SHA-256 of each session's ``state.json`` as the pipeline last wrote it, kept
        apart (``outputs/.seals.json``): a session's record altered or removed is noticed."""
        try:
            data = json.loads((self.root / Names.SEALS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _seal(self, session_id: str, digest: str) -> None:
        seals = {**self.seals(), session_id: digest}
        atomic_write(self.root / Names.SEALS, (json.dumps(dict(sorted(seals.items())), indent=1) + "\n").encode())

    # -- series-wide records ----------------------------------------------------------
    def series_state(self) -> Mapping[str, StageRecord]:
        """Records of the steps that cover the whole series (publish)."""
        try:
            data = json.loads((self.root / Names.SERIES_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return parse_state({"schema_version": STATE_SCHEMA_VERSION, **data} if isinstance(data, dict) else {}, "series").stages

    def record_series(self, step: str, record: StageRecord) -> None:
        """Record a series-wide step."""
        stages = {**self.series_state(), step: record}
        body = {"stages": {name: _record_dict(r) for name, r in stages.items()}}
        try:
            atomic_write(self.root / Names.SERIES_STATE, (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode())
        except OSError as exc:
            raise write_error(exc, self.root) from exc

    def read_series(self, name: str) -> dict[str, Any]:
        """A series-wide JSON file of ``outputs/`` (empty when absent or unreadable)."""
        try:
            data = json.loads((self.root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_series(self, name: str, data: Mapping[str, Any]) -> None:
        """Write a series-wide JSON file of ``outputs/`` atomically."""
        try:
            atomic_write(self.root / name, (json.dumps(data, ensure_ascii=False) + "\n").encode())
        except OSError as exc:
            raise write_error(exc, self.root) from exc

    def record_run(self, rows: list[dict[str, Any]]) -> None:
        """Keep the last run's results (failures and durations) for ``pipeline status``."""
        try:
            atomic_write(self.root / Names.LAST_RUN, (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode())
        except OSError as exc:
            raise write_error(exc, self.root) from exc

    def last_run(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The last run's rows by (session, stage)."""
        try:
            rows = json.loads((self.root / Names.LAST_RUN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {(str(r["session_id"]), str(r["stage"])): r for r in rows if isinstance(r, dict) and "session_id" in r and "stage" in r}

    # -- recordings ---------------------------------------------------------------------
    def recording_sha256(self, path: Path) -> str:
        """SHA-256 of a recording, cached by (size, modification time, inode): an hour of
        video is hashed once, not at every ``status``. A rewritten file changes its
        modification time, so it is hashed again."""
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
        cache_path = self.root / Names.HASH_CACHE
        try:
            cache = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if not isinstance(cache, dict):
            cache = {}
        if isinstance(cache.get(key), str):
            return str(cache[key])
        digest = sha256_file(path)
        cache = {k: v for k, v in cache.items() if not k.startswith(f"{path.resolve()}|")}
        cache[key] = digest
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            atomic_write(cache_path, json.dumps(cache).encode())  # ASCII: a name that is not UTF-8 is escaped
        return digest

    # -- the run lock -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait: bool = False, timeout: float = 3600.0) -> Iterator[None]:
        """Hold the run lock of this ``outputs/``: one run at a time. Without ``wait``, a
        second run is refused at once with who holds the lock; with it, it waits. Staging
        folders left by a killed run are swept once the lock is held."""
        path = self.root / Names.LOCK
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        except OSError as exc:
            raise OutputError(
                self.root, f"cannot write ({exc.strerror})", "fix the folder's permissions or free disk space, or pass --outputs DIR"
            ) from exc
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    handle.seek(0)
                    holder = handle.read().strip() or "another run"
                    if not wait or time.monotonic() > deadline:
                        raise OutputError(
                            self.root, f"is in use by {holder}", "wait for it to finish, or pass --wait to queue behind it"
                        ) from None
                    time.sleep(0.5)
            with contextlib.suppress(OSError):  # the holder's name is a courtesy
                handle.seek(0)
                handle.truncate()
                handle.write(f"pipeline pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
                handle.flush()
            self.sweep_staging()
            yield
        finally:
            handle.close()  # closing releases the lock, also when the process is killed

    def holder(self) -> str | None:
        """Who holds ``outputs/`` right now, or None."""
        path = self.root / Names.LOCK
        try:
            handle = open(path, encoding="utf-8")  # noqa: SIM115
        except OSError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another run"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    # -- folders rebuilt whole ------------------------------------------------------------
    @contextlib.contextmanager
    def replacing(self, target: Path) -> Iterator[Path]:
        """A staging folder that replaces ``target`` when the block ends without error (two
        renames; readers see the old folder or the new one); removed on error."""
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{Names.STAGING_PREFIX}{target.name}-", dir=target.parent))
        try:
            yield staging
            os.chmod(staging, 0o755)
            old = None
            if target.exists():
                old = target.with_name(f"{Names.STAGING_PREFIX}{target.name}-old-{os.getpid()}")
                os.replace(target, old)
            os.replace(staging, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def sweep_staging(self) -> list[Path]:
        """Remove what a killed run left behind (call with the lock held): staging folders,
        and the half-written temporaries of the series-wide files (``..series-state.json.*.tmp``)."""
        swept = []
        for folder in (self.root, self.archive_dir):
            if folder.is_dir():
                for leftover in folder.glob(f"{Names.STAGING_PREFIX}*"):
                    shutil.rmtree(leftover, ignore_errors=True)
                    swept.append(leftover)
        if self.root.is_dir():
            for name in (Names.SERIES_STATE, Names.LAST_RUN, Names.HASH_CACHE, Names.SEALS, Names.VOICEPRINTS):
                for leftover in self.root.glob(f".{name}.*.tmp"):
                    leftover.unlink(missing_ok=True)
                    swept.append(leftover)
        return swept

    # -- checkpoints --------------------------------------------------------------------
    def checkpoint_path(self, session_id: str, stage: str) -> Path:
        """Where a stage's finished items wait while it runs (removed once it completes)."""
        return self.session_dir(session_id) / f".{stage}.partial.jsonl"

    def read_checkpoint(self, session_id: str, stage: str, inputs_fingerprint: str) -> list[dict[str, Any]]:
        """Items a killed run of ``stage`` had finished on the same inputs; a partial last
        line (the kill came mid-write) and checkpoints of other inputs are ignored."""
        path = self.checkpoint_path(session_id, stage)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        items: list[dict[str, Any]] = []
        for number, line in enumerate(lines):
            try:
                item = json.loads(line)
            except ValueError:
                break
            if number == 0:
                if not isinstance(item, dict) or item.get("inputs") != inputs_fingerprint:
                    return []
                continue
            items.append(item)
        return items

    @contextlib.contextmanager
    def checkpoint(
        self, session_id: str, stage: str, inputs_fingerprint: str, resumed: int
    ) -> Iterator[Callable[[Mapping[str, Any]], None]]:
        """An append-only checkpoint: each item is one fsync'd JSON line. ``resumed`` items
        were read back from an earlier run; the file is rewritten from them first, so that
        a torn last line never stays in the middle."""
        path = self.checkpoint_path(session_id, stage)
        kept = self.read_checkpoint(session_id, stage, inputs_fingerprint)[:resumed]
        header = json.dumps({"inputs": inputs_fingerprint}) + "\n"
        try:
            atomic_write(path, (header + "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in kept)).encode())
            handle = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise write_error(exc, path) from exc

        def append(item: Mapping[str, Any]) -> None:
            try:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                raise write_error(exc, path) from exc

        with handle:
            yield append

    def drop_checkpoint(self, session_id: str, stage: str) -> None:
        """Remove a completed stage's checkpoint."""
        self.checkpoint_path(session_id, stage).unlink(missing_ok=True)
