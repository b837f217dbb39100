"""The only module that knows the ``outputs/`` layout.

Every write is atomic (temporary file in the same folder, fsync, rename), so a crash never
leaves a half-written file. ``state.json`` records, per stage, the fingerprint of the inputs
and the SHA-256 of each file written: a file whose content no longer matches was edited by
someone, and is never overwritten; the new version goes beside it as ``NAME.draft.EXT``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
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
        """Write a stage's files atomically, guard edited ones, then record the stage."""
        folder = self.session_dir(session_id)
        _remove_temporaries(folder, [*files, "state.json"])
        state = self.state(session_id)
        known = {name: digest for record in state.get("stages", {}).values() for name, digest in record.get("files", {}).items()}
        written, hashes = [], {}
        try:
            for name, text in files.items():
                data = text.encode("utf-8")
                digest = sha256_bytes(data)
                target = folder / name
                if target.exists():
                    current = sha256_bytes(target.read_bytes())
                    if current != digest and current != known.get(name):
                        draft = target.with_name(f"{target.stem}.draft{target.suffix}")
                        atomic_write(draft, data)
                        written.append(Written(draft, kept_edit=True))
                        # Still the hash of what the pipeline last wrote there: the file stays the editor's.
                        hashes[name] = known.get(name, "")
                        continue
                atomic_write(target, data)
                written.append(Written(target))
                hashes[name] = digest
            stages = dict(state.get("stages", {}))
            stages[stage] = {"inputs": inputs_fingerprint, "files": hashes, **(extra or {})}
            state = {"session_id": session_id, "stages": stages}
            atomic_write(self._state_path(session_id), (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode())
        except OSError as exc:
            raise OutputError(exc.filename or folder, f"cannot write outputs ({exc.strerror})", "free disk space or fix the folder's permissions, then run again") from exc
        return written
