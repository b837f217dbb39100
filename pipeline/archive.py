"""Archive packages archivists can verify: one BagIt bag per session, and fixity checks.

A bag (RFC 8493, written by the Library of Congress' bagit-python) holds the transcripts,
the keywords, the synthesis as the editor left it, the provenance of every file, a log of
events (transcribed, keywords, drafted, edited, archived), the recording's checksum (and the
recording itself with ``with_media``) and Dublin Core metadata, in ``dc.xml`` and in the
matching ``bag-info.txt`` fields. Manifests carry SHA-256 and SHA-512.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import bagit

from . import __version__
from . import keywords as keywords_io
from . import transcript as transcript_io
from .catalogue import Catalogue, Session
from .errors import PipelineError
from .media import sha256_file
from .settings import DEFAULT_RIGHTS
from .store import Names, Store, sha256_bytes, write_error
from .synthesis import read_synthesis
from .text import utc_now, xml_safe

SERIES = "Les nouveaux enjeux de la transition numérique des villes"
__all__ = ["DEFAULT_RIGHTS", "Finding", "archive_session", "dc_xml", "dublin_core", "events", "verify"]
FORMATS = {
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".md": "text/markdown; charset=utf-8",
    ".xml": "application/xml",
    ".jsonl": "application/jsonl",
}


@dataclass(frozen=True)
class Finding:
    """One fixity problem: which file, and what is wrong with it."""

    path: Path
    problem: str
    damage: bool = True
    """False for a file editors are invited to edit, changed since the last run: an edit
    the next run applies and records, not damage."""


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def events(
    store: Store, session_id: str, transcript: transcript_io.Transcript, found: keywords_io.SessionKeywords | None
) -> list[dict[str, Any]]:
    """The session's history, oldest first, as PREMIS-like events (what, when, by which agent)."""
    prov = transcript.provenance
    agent = f"villes-numeriques-pipeline {prov.pipeline_version}"
    log = [
        {
            "event": "transcribed",
            "date": prov.finished_utc,
            "object": Names.TRANSCRIPT,
            "sha256": store.sha256(session_id, Names.TRANSCRIPT),
            "agent": (
                f"{agent}; faster-whisper {prov.faster_whisper_version}; "
                f"model {prov.model.id} (model.bin sha256 {prov.model.sha256.get('model.bin', '?')})"
            ),
            "source": {"name": prov.input_name, "sha256": prov.input_sha256, "duration_seconds": prov.input_duration},
        }
    ]
    if found is not None:
        log.append(
            {
                "event": "keywords",
                "date": found.provenance.get("generated_utc", ""),
                "object": Names.KEYWORDS,
                "sha256": store.sha256(session_id, Names.KEYWORDS),
                "agent": (
                    f"villes-numeriques-pipeline {found.provenance.get('pipeline_version', '')}; "
                    f"spaCy {found.provenance.get('spacy_version', '')} {found.provenance.get('spacy_model', '')}"
                ),
            }
        )
    log += store.events(session_id)  # the editors' corrections, as the runs recorded them
    state = store.state(session_id)
    synthesis = store.path(session_id, Names.SYNTHESIS)
    record = state.stages.get("synthesis")
    if record is not None and synthesis.exists():
        log.append({"event": "drafted", "date": record.finished_utc, "object": Names.SYNTHESIS, "agent": agent})
        if store.is_edited(session_id, Names.SYNTHESIS, state):
            log.append(
                {
                    "event": "edited",
                    "date": _utc(synthesis.stat().st_mtime),
                    "object": Names.SYNTHESIS,
                    "sha256": store.sha256(session_id, Names.SYNTHESIS),
                    "agent": "editor",
                }
            )
    return log


def dublin_core(
    session: Session,
    transcript: transcript_io.Transcript,
    found: keywords_io.SessionKeywords | None,
    rights: str,
    formats: Sequence[str],
    description: str,
) -> dict[str, list[str]]:
    """Dublin Core elements of a session (each may repeat), in text XML and ``bag-info.txt``
    can carry."""
    subjects = [t.label for t in found.themes if t.share >= 0.1] if found else []
    subjects += [k.surface for k in found.keywords[:15]] if found else []
    elements = {
        "title": [session.title],
        "date": [session.date] if session.date else [],
        **_people(session, transcript),
        "subject": list(dict.fromkeys(subjects)),
        "description": [description] if description else [],
        "language": ["fr"],
        "identifier": [f"urn:villes-numeriques:session:{session.id}", f"urn:sha256:{transcript.provenance.input_sha256}"],
        "relation": [session.replay_url] if session.replay_url else [],
        "isPartOf": [SERIES],
        "rights": [rights],
        "format": sorted(set(formats)),
        "type": ["Text", "Sound"],
    }
    return {name: [" ".join(xml_safe(v).split()) for v in values] for name, values in elements.items()}


def _people(session: Session, transcript: transcript_io.Transcript) -> dict[str, list[str]]:
    """Dublin Core creators (the speakers heard) and contributors (the moderators heard);
    without speaker attribution, the catalogue's speakers are the creators."""
    from .speakers import MODERATOR_ROLES, UNNAMED

    if not transcript.speakers:
        return {"creator": [s.name for s in session.speakers], "contributor": []}
    unnamed = UNNAMED.split("{", 1)[0]
    heard = [s for s in transcript.speakers if not s.name.startswith(unnamed) and not s.name.startswith("SPEAKER_")]
    return {
        "creator": [s.name for s in heard if not MODERATOR_ROLES.search(s.role)],
        "contributor": [s.name for s in heard if MODERATOR_ROLES.search(s.role)],
    }


def dc_xml(elements: Mapping[str, Sequence[str]]) -> str:
    """Simple Dublin Core as XML (``dcterms:isPartOf`` for the series)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">',
    ]
    for name, values in elements.items():
        prefix = "dcterms" if name == "isPartOf" else "dc"
        lines += [f"  <{prefix}:{name}>{escape(value)}</{prefix}:{name}>" for value in values]
    lines.append("</metadata>")
    return "\n".join(lines) + "\n"


def archive_session(
    store: Store,
    catalogue: Catalogue,
    session_id: str,
    recordings: Path,
    with_media: bool = False,
    rights: str = DEFAULT_RIGHTS,
    payload: Sequence[str] = Names.ARCHIVED,
) -> Path:
    """Write ``outputs/archive/<session>/`` as a validated BagIt bag of the ``payload`` files
    of its folder (the ones there); return its path."""
    folder = store.session_dir(session_id)
    if not store.path(session_id, Names.TRANSCRIPT).exists():
        raise PipelineError(store.path(session_id, Names.TRANSCRIPT), "no transcript to archive", "run `pipeline run` first")
    transcript = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
    found = keywords_io.load(store.path(session_id, Names.KEYWORDS)) if store.path(session_id, Names.KEYWORDS).exists() else None
    session = next((s for s in catalogue.sessions if s.id == session_id), None) or Session(
        id=session_id, title=session_id, recording=transcript.provenance.input_name
    )
    description = ""
    if store.path(session_id, Names.SYNTHESIS).exists():
        description = " ".join(read_synthesis(store.read_text(session_id, Names.SYNTHESIS), store.path(session_id, Names.SYNTHESIS)).brief)
    recording = recordings / (session.recording or transcript.provenance.input_name)
    if with_media and not recording.exists():
        raise PipelineError(
            recording, "recording not found for --with-media", "put the recording back in recordings/ or archive without --with-media"
        )
    try:
        with store.replacing(store.bag_dir(session_id)) as staging:
            _fill_bag(staging, store, session_id, folder, transcript, found, session, description, recording, with_media, rights, payload)
    except OSError as exc:
        raise write_error(exc, store.archive_dir) from exc
    return store.bag_dir(session_id)


def _fill_bag(
    staging: Path,
    store: Store,
    session_id: str,
    folder: Path,
    transcript: transcript_io.Transcript,
    found: keywords_io.SessionKeywords | None,
    session: Session,
    description: str,
    recording: Path,
    with_media: bool,
    rights: str,
    payload: Sequence[str],
) -> None:
    """Put the payload, provenance, history and Dublin Core in ``staging`` and bag it."""
    names = [name for name in payload if (folder / name).exists()]
    for name in names:
        if name in Names.EDITABLE:  # an editor's text, kept without the control characters XML cannot hold
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
            (staging / name).write_text(xml_safe(text), encoding="utf-8")
            shutil.copystat(folder / name, staging / name)
        else:
            shutil.copy2(folder / name, staging / name)
    prov = transcript.provenance
    (staging / "recording.sha256").write_text(f"{prov.input_sha256}  {prov.input_name}\n", encoding="utf-8")
    log = events(store, session_id, transcript, found)
    if with_media:
        (staging / "media").mkdir()
        shutil.copy2(recording, staging / "media" / recording.name)
    log.append(
        {
            "event": "archived",
            "date": utc_now(),
            "object": "bag",
            "agent": f"villes-numeriques-pipeline {__version__}; bagit-python {bagit.VERSION}",
        }
    )
    (staging / Names.EVENTS).write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in log), encoding="utf-8")
    provenance = {
        "session_id": session_id,
        "recording": {
            "name": prov.input_name,
            "sha256": prov.input_sha256,
            "duration_seconds": prov.input_duration,
            "included": with_media,
        },
        "transcription": {
            "model": prov.model.id,
            "model_sha256": dict(prov.model.sha256),
            "faster_whisper": prov.faster_whisper_version,
            "ctranslate2": prov.ctranslate2_version,
            "options": dict(prov.options),
            "started_utc": prov.started_utc,
            "finished_utc": prov.finished_utc,
        },
        "keywords": dict(found.provenance) if found else None,
        "files": {name: sha256_bytes((folder / name).read_bytes()) for name in names},
    }
    (staging / "provenance.json").write_text(json.dumps(provenance, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    formats = [FORMATS.get(Path(n).suffix, "application/octet-stream") for n in [*names, "provenance.json", Names.EVENTS, "dc.xml"]]
    if with_media:
        formats.append(mimetypes.guess_type(recording.name)[0] or "application/octet-stream")
    elements = dublin_core(session, transcript, found, rights, formats, description)
    (staging / "dc.xml").write_text(dc_xml(elements), encoding="utf-8")
    bag_info = {
        "Source-Organization": SERIES,
        "External-Identifier": f"urn:villes-numeriques:session:{session_id}",
        "External-Description": session.title,
        "Bag-Group-Identifier": SERIES,
        "Bag-Software-Agent": f"villes-numeriques-pipeline {__version__} (bagit-python {bagit.VERSION})",
        **{f"DC-{name[:1].upper()}{name[1:]}": values for name, values in elements.items() if values},
    }
    bag = bagit.make_bag(str(staging), bag_info, checksums=["sha256", "sha512"])
    bag.validate()


def verify(store: Store) -> list[Finding]:
    """Fixity of ``outputs/`` (each file against the hash recorded when it was written or
    last accepted) and of every bag under ``outputs/archive/``; empty when all is intact."""
    findings: list[Finding] = []
    if not store.root.is_dir():
        return [Finding(store.root, "is not a folder: nothing to verify (check the path given to --outputs)")]
    seals = store.seals()
    for session_id, digest in seals.items():
        state_path = store.path(session_id, Names.STATE)
        if not store.session_dir(session_id).is_dir():
            findings.append(Finding(store.session_dir(session_id), "missing: the whole session folder is gone"))
        elif not state_path.exists():
            findings.append(Finding(state_path, "missing (the record of this session's files)"))
        elif sha256_bytes(state_path.read_bytes()) != digest:
            findings.append(Finding(state_path, f"altered since the pipeline wrote it (its seal is in {Names.SEALS})"))
    for session_id in store.sessions_with(Names.STATE):
        stages = store.state(session_id).stages
        archived = stages.get("archive")
        if archived is not None:
            bag = store.bag_dir(session_id)
            sealed = archived.facts.get("tagmanifests")
            if not bag.is_dir():
                findings.append(Finding(bag, "missing: the session's bag is gone"))
            for name, digest in (sealed or {}).items() if isinstance(sealed, dict) and bag.is_dir() else ():
                tags = bag / name
                if not tags.exists():
                    findings.append(Finding(tags, "missing from the bag (it seals bag-info.txt and the manifests)"))
                elif sha256_bytes(tags.read_bytes()) != digest:
                    findings.append(Finding(tags, "altered since the bag was made"))
        for stage, record in stages.items():
            for name, digest in record.files.items():
                path = store.path(session_id, name)
                if not path.exists():
                    findings.append(Finding(path, f"missing (written by the {stage} stage)"))
                elif digest and sha256_bytes(path.read_bytes()) != digest:
                    if name in Names.EDITABLE:
                        findings.append(Finding(path, "edited since the last run (`pipeline run` applies and records the edit)", False))
                    else:
                        findings.append(
                            Finding(path, f"altered since the {stage} stage recorded it (not a file to edit: rerun with --force)")
                        )
    published = store.series_state().get("publish")
    site_files = published.facts.get("files") if published is not None else None
    for relative, digest in (site_files or {}).items() if isinstance(site_files, dict) else ():
        path = store.site_dir / relative
        if not path.exists():
            findings.append(Finding(path, "missing from the published site"))
        elif sha256_file(path) != digest:
            findings.append(Finding(path, "altered since the site was published (rerun `pipeline publish --force`)"))
    archive = store.archive_dir
    for bag_dir in sorted(p for p in archive.glob("*") if p.is_dir() and not p.name.startswith(".")) if archive.is_dir() else []:
        findings += _validate_bag(bag_dir)
    return findings


def _validate_bag(bag_dir: Path) -> list[Finding]:
    """Every problem of a bag. ``Bag.validate()`` stops at the first failed check (often the
    Payload-Oxum count) without naming files, so completeness and checksums are checked
    one after the other and all their details kept."""
    try:
        bag = bagit.Bag(str(bag_dir))
    except bagit.BagError as exc:  # unreadable bag declaration, tag file or manifest
        return [Finding(bag_dir, f"not a valid bag ({exc})")]
    try:
        bag.validate()
        return []
    except bagit.BagValidationError as exc:
        summary = str(exc.message)
    except bagit.BagError as exc:
        return [Finding(bag_dir, f"not a valid bag ({exc})")]
    found: list[Finding] = []
    checks = (bag._validate_completeness, lambda: bag._validate_entries(1))  # noqa: SLF001 - see docstring
    for check in checks:
        try:
            check()
        except bagit.BagValidationError as exc:
            named = {f.path for f in found}  # a missing file also fails its checksum: say it once
            found += [
                f for f in (Finding(bag_dir / getattr(d, "path", ""), _describe(d)) for d in exc.details or []) if f.path not in named
            ]
    return found or [Finding(bag_dir, summary)]


def _describe(detail: Any) -> str:
    if isinstance(detail, bagit.ChecksumMismatch):
        return f"altered: {detail.algorithm} is {detail.found[:16]}…, the manifest says {detail.expected[:16]}…"
    if isinstance(detail, bagit.FileMissing):
        return "missing from the bag"
    if isinstance(detail, bagit.UnexpectedFile):
        return "not in the manifest (added after bagging)"
    return str(detail)
