"""The only module that knows the ``outputs/`` layout.

Every write is atomic (temporary file in the same folder, fsync, rename), so a crash never
leaves a half-written file. ``state.json`` records, per stage, the fingerprint of the inputs
and the SHA-256 of each file written: a file whose content no longer matches was edited by
someone, and is never overwritten; the new version goes beside it as ``NAME.draft.EXT``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import SAFE_ID
from .errors import OutputError


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
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_error(exc: OSError, where: Path) -> OutputError:
    """The one-line error for a failed write (disk full, permissions, read-only folder)."""
    return OutputError(exc.filename or where, f"cannot write outputs ({exc.strerror})", "free disk space or fix the folder's permissions, then run again")


HASHES_KEPT = 8  # per file: the last hashes the pipeline wrote there


def _remove_temporaries(folder: Path, names: list[str]) -> None:
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
    """A stable hash of a stage's inputs (JSON with sorted keys)."""
    return sha256_bytes(json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str).encode())


@dataclass(frozen=True)
class Written:
    """Where a file ended up; ``kept_edit`` when an edited file was left alone."""

    path: Path
    kept_edit: bool = False


@dataclass(frozen=True)
class Store:
    """The ``outputs/`` folder: one sub-folder per session id."""

    root: Path

    def session_dir(self, session_id: str) -> Path:
        """The folder of a session; refuses ids that could escape ``outputs/``."""
        if not SAFE_ID.match(session_id):
            raise OutputError(self.root / session_id, f"unsafe session id {session_id!r}", "use lower-case letters, digits and dashes")
        return self.root / session_id

    def _state_path(self, session_id: str) -> Path:
        return self.session_dir(session_id) / "state.json"

    def state(self, session_id: str) -> dict[str, Any]:
        """The recorded state of a session (empty if none or unreadable)."""
        path = self._state_path(session_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def is_fresh(self, session_id: str, stage: str, inputs_fingerprint: str) -> bool:
        """True when ``stage`` ran on the same inputs and its files are still there."""
        record = self.state(session_id).get("stages", {}).get(stage)
        if not record or record.get("inputs") != inputs_fingerprint:
            return False
        folder = self.session_dir(session_id)
        return all((folder / name).exists() for name in record.get("files", {}))

    def write_stage(
        self, session_id: str, stage: str, inputs_fingerprint: str, files: Mapping[str, str], extra: Mapping[str, Any] | None = None
    ) -> list[Written]:
        """Write a stage's files atomically, guard edited ones, then record the stage.

        Write-ahead: the hashes about to be written are recorded in ``state.json`` first, so
        that after a crash between a file and the record, the file is still known as the
        pipeline's own and not mistaken for an editor's edit.
        """
        folder = self.session_dir(session_id)
        state = self.state(session_id)
        ours: dict[str, list[str]] = {name: list(digests) for name, digests in state.get("written", {}).items()}
        if "written" not in state:  # a state from before write-ahead: its records are ours
            for record in state.get("stages", {}).values():
                for name, digest in record.get("files", {}).items():
                    ours.setdefault(name, []).append(digest)
        plan: list[tuple[Path, bytes, bool]] = []
        hashes = {}
        for name, text in files.items():
            data = text.encode("utf-8")
            target = folder / name
            current = sha256_bytes(target.read_bytes()) if target.exists() else None
            edited = current is not None and current != sha256_bytes(data) and current not in ours.get(name, [])
            if edited:
                target = target.with_name(f"{target.stem}.draft{target.suffix}")
            plan.append((target, data, edited))
            digest = sha256_bytes(data)
            ours[target.name] = [*ours.get(target.name, []), digest][-HASHES_KEPT:]
            # For an edited file, the stage records the editor's version as its output.
            hashes[name] = current if edited and current else digest
        try:
            _remove_temporaries(folder, [*files, *(target.name for target, _, _ in plan), "state.json"])
            self._write_state(session_id, {**state, "session_id": session_id, "written": ours})
            for target, data, _ in plan:
                atomic_write(target, data)
            stages = dict(state.get("stages", {}))
            stages[stage] = {"inputs": inputs_fingerprint, "files": hashes, **(extra or {})}
            self._write_state(session_id, {"session_id": session_id, "stages": stages, "written": ours})
        except OSError as exc:
            raise _write_error(exc, folder) from exc
        return [Written(target, kept_edit=edited) for target, _, edited in plan]

    def _write_state(self, session_id: str, state: Mapping[str, Any]) -> None:
        atomic_write(self._state_path(session_id), (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode())

    def sessions_with(self, name: str) -> list[str]:
        """Ids of the sessions that have file ``name``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{name}") if SAFE_ID.match(p.parent.name))

    def path(self, session_id: str, name: str) -> Path:
        """Where file ``name`` of a session lives."""
        return self.session_dir(session_id) / name

    def sha256(self, session_id: str, name: str) -> str:
        """SHA-256 of a session's file (as it is now, edits included)."""
        return sha256_bytes(self.path(session_id, name).read_bytes())

    @contextlib.contextmanager
    def lock(self, wait: bool = False, timeout: float = 3600.0) -> Iterator[None]:
        """Hold the run lock of this ``outputs/``: one run at a time. Without ``wait``, a
        second run is refused at once with who holds the lock; with it, it waits."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".pipeline.lock"
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
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
            handle.seek(0)
            handle.truncate()
            handle.write(f"pipeline pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the lock, also when the process is killed

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
                if item.get("inputs") != inputs_fingerprint:
                    return []
                continue
            items.append(item)
        return items

    @contextlib.contextmanager
    def checkpoint(self, session_id: str, stage: str, inputs_fingerprint: str, resumed: int) -> Iterator[Callable[[Mapping[str, Any]], None]]:
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
            raise _write_error(exc, path) from exc

        def append(item: Mapping[str, Any]) -> None:
            try:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                raise _write_error(exc, path) from exc

        with handle:
            yield append

    def drop_checkpoint(self, session_id: str, stage: str) -> None:
        """Remove a completed stage's checkpoint."""
        self.checkpoint_path(session_id, stage).unlink(missing_ok=True)
