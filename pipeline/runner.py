"""Batch runs: find recordings, skip the up-to-date work, isolate failures, report.

One bad recording never stops the batch: its error is recorded in the report and the next
recording goes on. Models (Whisper, spaCy) are loaded once, only if something needs them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from . import keywords as keywords_io
from . import transcript as transcript_io
from .catalogue import Catalogue, Session
from .errors import ModelError, PipelineError, RecordingError
from .keywords import Candidate, KeywordOptions, SessionKeywords, ThemeModel, analyse, document_frequencies, extract_keywords
from .media import MEDIA_SUFFIXES, Recording, decode, probe, sha256_file
from .models import model_identity
from .store import Store, fingerprint
from .subtitles import all_renderings
from .synthesis import SynthesisOptions, synthesize
from .transcribe import Transcriber, TranscriptionOptions, build_vocabulary, transcribe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionResult:
    """What happened to one recording."""

    recording: Path
    session_id: str
    status: str  # "transcribed", "keywords", "up to date" or "failed"
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    files: tuple[Path, ...] = ()
    kept_edits: tuple[Path, ...] = ()
    error: str = ""
    stage: str = "transcribe"


@dataclass(frozen=True)
class RunReport:
    """Every recording's result, in order."""

    results: tuple[SessionResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[SessionResult, ...]:
        """The recordings that could not be processed."""
        return tuple(r for r in self.results if r.status == "failed")


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, the library default draws nothing."""

    def start(self, recording: Path, total_seconds: float) -> None: ...
    def advance(self, done_seconds: float) -> None: ...
    def finish(self, result: SessionResult) -> None: ...


class SilentReporter:
    """A reporter that reports nothing."""

    def start(self, recording: Path, total_seconds: float) -> None:
        """Ignore."""

    def advance(self, done_seconds: float) -> None:
        """Ignore."""

    def finish(self, result: SessionResult) -> None:
        """Ignore."""


def find_recordings(folder: Path) -> list[Path]:
    """Media files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith(".")
    )


def _unchanged_since_probe(recording: Recording) -> None:
    """Refuse a recording that was replaced or rewritten while it was being transcribed:
    its transcript would describe a file that no longer exists."""
    try:
        same = recording.path.stat().st_size == recording.size and sha256_file(recording.path) == recording.sha256
    except OSError:
        same = False
    if not same:
        raise RecordingError(recording.path, "was replaced or changed while it was being transcribed", "run again once the copy is complete")


def transcribe_inputs(session: Session, sha256: str, options: TranscriptionOptions, vocabulary: str) -> dict[str, object]:
    """What the transcription of a recording depends on; any change makes it stale."""
    return {
        "recording_sha256": sha256,
        "session": asdict(session),
        "model": model_identity(options.model),
        "options": asdict(options),
        "vocabulary": vocabulary,
        "pipeline_version": __version__,
    }


def transcribe_one(
    path: Path,
    catalogue: Catalogue,
    store: Store,
    options: TranscriptionOptions,
    get_transcriber: Callable[[], Transcriber],
    reporter: Reporter,
    force: bool = False,
) -> SessionResult:
    """Transcribe one recording into ``store``; a bad recording becomes a failed result.
    ``get_transcriber`` is called only if there is something to transcribe."""
    started = time.perf_counter()
    session = catalogue.session_for(Path(path))
    try:
        recording = probe(Path(path))
        vocabulary = build_vocabulary(session, catalogue.themes) if options.use_vocabulary else ""
        inputs = fingerprint(transcribe_inputs(session, recording.sha256, options, vocabulary))
        if not force and store.is_fresh(session.id, "transcribe", inputs):
            return SessionResult(path, session.id, "up to date", recording.duration)
        reporter.start(path, recording.duration)
        audio = decode(recording)
        transcriber = get_transcriber()
        done = [transcript_io.segment_from_dict(item) for item in store.read_checkpoint(session.id, "transcribe", inputs)]
        if done:
            log.info("%s: resuming after %.1f s already transcribed", path, done[-1].end)
            reporter.advance(done[-1].end)
        with store.checkpoint(session.id, "transcribe", inputs, len(done)) as save:
            transcript = transcribe(recording, audio, session, transcriber, options, catalogue.themes, reporter.advance, done, lambda s: save(asdict(s)))
        del audio
        _unchanged_since_probe(recording)
        files = {"transcript.json": transcript_io.dumps(transcript)}
        files.update({f"transcript.{suffix}": text for suffix, text in all_renderings(transcript, session.title)})
        written = store.write_stage(session.id, "transcribe", inputs, files, {"pipeline_version": __version__, "finished_utc": transcript.provenance.finished_utc})
        store.drop_checkpoint(session.id, "transcribe")
        return SessionResult(
            path, session.id, "transcribed", transcript.duration, time.perf_counter() - started,
            tuple(w.path for w in written), tuple(w.path for w in written if w.kept_edit),
        )
    except ModelError:
        raise  # the model serves every recording: nothing else can run, so stop here
    except PipelineError as exc:
        log.error("%s", exc.one_line())
        return SessionResult(path, session.id, "failed", wall_seconds=time.perf_counter() - started, error=exc.one_line())
    except Exception as exc:  # an unexpected fault in one recording must not stop the batch
        log.debug("unexpected error on %s", path, exc_info=True)
        message = f"{path}: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback and report it)"
        return SessionResult(path, session.id, "failed", wall_seconds=time.perf_counter() - started, error=message)


# One transcriber per worker process, loaded on its first job and reused by the next ones:
# loading Whisper costs seconds, a job may be minutes, and a worker runs many jobs.
_WORKER_TRANSCRIBERS: dict[Any, Transcriber] = {}


@dataclass(frozen=True)
class RecordingJob:
    """One recording's transcription, picklable, so that the same code runs in-process, in
    a local process pool (``--jobs``) or on a Dask cluster (``--scheduler``)."""

    path: Path
    catalogue: Catalogue
    outputs: Path
    options: TranscriptionOptions
    make_transcriber: Callable[[], Transcriber]
    force: bool = False

    def __call__(self) -> SessionResult:
        """Run the job where it lands (workers share nothing but ``outputs/``)."""

        def get_transcriber() -> Transcriber:
            if self.make_transcriber not in _WORKER_TRANSCRIBERS:
                _WORKER_TRANSCRIBERS[self.make_transcriber] = self.make_transcriber()
            return _WORKER_TRANSCRIBERS[self.make_transcriber]

        return transcribe_one(self.path, self.catalogue, Store(self.outputs), self.options, get_transcriber, SilentReporter(), self.force)


def _call(job: RecordingJob) -> SessionResult:
    return job()


def transcribe_recordings(
    recordings: Sequence[Path],
    catalogue: Catalogue,
    store: Store,
    options: TranscriptionOptions,
    make_transcriber: Callable[[], Transcriber],
    reporter: Reporter | None = None,
    force: bool = False,
    jobs: int = 1,
    scheduler: str | None = None,
) -> RunReport:
    """Transcribe each recording into ``store``; failures are reported, never raised.

    ``jobs`` > 1 runs recordings in that many local processes, the CPU threads shared out
    among them; ``scheduler`` sends them to a Dask cluster (``dask scheduler`` address).
    Both run the same :class:`RecordingJob`; results come back in the order recordings end.
    """
    reporter = reporter or SilentReporter()
    if jobs <= 1 and not scheduler:
        transcriber: list[Transcriber] = []

        def get_transcriber() -> Transcriber:
            if not transcriber:
                transcriber.append(make_transcriber())
            return transcriber[0]

        results = []
        for path in recordings:
            result = transcribe_one(path, catalogue, store, options, get_transcriber, reporter, force)
            reporter.finish(result)
            results.append(result)
        return RunReport(tuple(results))
    return RunReport(tuple(_run_jobs([RecordingJob(Path(p), catalogue, store.root, options, make_transcriber, force) for p in recordings], jobs, scheduler, reporter)))


def _run_jobs(batch: Sequence[RecordingJob], jobs: int, scheduler: str | None, reporter: Reporter) -> list[SessionResult]:
    results: list[SessionResult] = []
    if scheduler:
        from dask.distributed import Client, as_completed

        with Client(scheduler) as client:
            for future in as_completed(client.map(_call, batch, pure=False)):
                results.append(future.result())
                reporter.finish(results[-1])
        return results
    import concurrent.futures
    import multiprocessing

    # fork would copy a loaded model's threads; spawn starts each worker clean.
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in concurrent.futures.as_completed([pool.submit(_call, job) for job in batch]):
            results.append(future.result())
            reporter.finish(results[-1])
    return results


def keywords_inputs(transcript_sha: str, catalogue: Catalogue, title: str, options: KeywordOptions, series_digest: str) -> dict[str, object]:
    """What a session's keywords depend on, the series' document frequencies included."""
    return {
        "transcript_sha256": transcript_sha,
        "themes": [asdict(t) for t in catalogue.themes],
        "title": title,
        "options": asdict(options),
        "series": series_digest,
        "pipeline_version": __version__,
    }


def synthesis_inputs(transcript_sha: str, keywords_sha: str, session: Session, catalogue: Catalogue, options: SynthesisOptions) -> dict[str, object]:
    """What a session's draft synthesis depends on."""
    return {
        "transcript_sha256": transcript_sha,
        "keywords_sha256": keywords_sha,
        "session": asdict(session),
        "themes": [asdict(t) for t in catalogue.themes],
        "options": asdict(options),
        "pipeline_version": __version__,
    }


def stored_candidates(store: Store, session_id: str, transcript_sha: str, options: KeywordOptions) -> tuple[str, ...] | None:
    """A session's candidate lemmas from its keywords.json, if made from this transcript
    with these options (else None: the session must be parsed again)."""
    stored = _stored_keywords(store, session_id)
    if stored and stored.provenance.get("transcript_sha256") == transcript_sha and stored.provenance.get("options") == fingerprint(asdict(options)):
        return stored.candidates
    return None


def keywords_for_sessions(
    store: Store,
    catalogue: Catalogue,
    options: KeywordOptions,
    load_nlp: Callable[[], Any],
    session_ids: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
) -> RunReport:
    """Keywords of each session, ranked against every session that has a transcript.

    Build then rank: the series' document frequencies come from every session first (from
    its stored candidates when its transcript is unchanged, else by parsing it), then each
    requested session is ranked. spaCy is loaded only when something must be recomputed.
    """
    reporter = reporter or SilentReporter()
    series = store.sessions_with("transcript.json")
    targets = list(session_ids) if session_ids else series
    missing = [s for s in targets if s not in series]
    nlp: Any = None
    theme_model: ThemeModel | None = None
    analysed: dict[str, dict[str, Candidate]] = {}
    lemma_sets: dict[str, tuple[str, ...]] = {}
    transcripts_sha = {s: store.sha256(s, "transcript.json") for s in series}

    transcripts: dict[str, transcript_io.Transcript] = {}

    def loaded(session_id: str) -> transcript_io.Transcript:
        if session_id not in transcripts:
            transcripts[session_id] = transcript_io.load(store.path(session_id, "transcript.json"))
        return transcripts[session_id]

    def parsed(session_id: str) -> dict[str, Candidate]:
        nonlocal nlp
        if session_id not in analysed:
            nlp = nlp or load_nlp()
            analysed[session_id] = analyse(loaded(session_id), nlp, options)
        return analysed[session_id]

    options_digest = fingerprint(asdict(options))
    for session_id in series:
        stored = stored_candidates(store, session_id, transcripts_sha[session_id], options)
        if stored is not None:
            lemma_sets[session_id] = stored
        else:
            try:
                lemma_sets[session_id] = tuple(sorted(parsed(session_id)))
            except PipelineError:
                lemma_sets[session_id] = ()  # reported below if it is a target
    frequencies = document_frequencies(lemma_sets.values())
    series_digest = fingerprint(dict(frequencies))
    results = [
        SessionResult(Path(s), s, "failed", error=f"{store.path(s, 'transcript.json')}: no transcript (run `pipeline transcribe` first)", stage="keywords")
        for s in missing
    ]
    for result in results:
        reporter.finish(result)
    for session_id in (s for s in targets if s in series):
        started = time.perf_counter()
        title = catalogue.session_by_id(session_id).title
        inputs = fingerprint(keywords_inputs(transcripts_sha[session_id], catalogue, title, options, series_digest))
        try:
            if not force and store.is_fresh(session_id, "keywords", inputs):
                result = SessionResult(Path(session_id), session_id, "up to date", stage="keywords")
            else:
                candidates = parsed(session_id)
                theme_model = theme_model or ThemeModel.build(nlp, catalogue.themes)
                transcript = loaded(session_id)
                extracted = extract_keywords(transcript, candidates, nlp, theme_model, title, frequencies, len(series), options)
                extracted = replace(extracted, provenance=_keywords_provenance(nlp, transcripts_sha[session_id], options_digest, len(series)))
                files = {"keywords.json": keywords_io.dumps(extracted), "keywords.md": keywords_io.to_markdown(extracted, title, catalogue.themes)}
                written = store.write_stage(session_id, "keywords", inputs, files, {"pipeline_version": __version__})
                result = SessionResult(
                    Path(session_id), session_id, "keywords", transcript.duration, time.perf_counter() - started,
                    tuple(w.path for w in written), tuple(w.path for w in written if w.kept_edit), stage="keywords",
                )
        except ModelError:
            raise
        except PipelineError as exc:
            result = SessionResult(Path(session_id), session_id, "failed", error=exc.one_line(), stage="keywords")
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


def synthesize_sessions(
    store: Store,
    catalogue: Catalogue,
    options: SynthesisOptions,
    session_ids: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
) -> RunReport:
    """Draft ``synthesis.md`` for each session that has a transcript and keywords. An edited
    synthesis is never overwritten: the new draft goes beside it as ``synthesis.draft.md``."""
    reporter = reporter or SilentReporter()
    ready = store.sessions_with("keywords.json")
    results = []
    for session_id in list(session_ids) if session_ids else ready:
        started = time.perf_counter()
        try:
            if session_id not in ready:
                raise PipelineError(store.path(session_id, "keywords.json"), "no keywords yet", "run `pipeline keywords` first")
            session = catalogue.session_by_id(session_id)
            transcript_sha, keywords_sha = store.sha256(session_id, "transcript.json"), store.sha256(session_id, "keywords.json")
            inputs = fingerprint(synthesis_inputs(transcript_sha, keywords_sha, session, catalogue, options))
            if not force and store.is_fresh(session_id, "synthesis", inputs):
                result = SessionResult(Path(session_id), session_id, "up to date", stage="synthesis")
            else:
                transcript = transcript_io.load(store.path(session_id, "transcript.json"))
                found = keywords_io.loads(store.path(session_id, "keywords.json").read_text(encoding="utf-8"), store.path(session_id, "keywords.json"))
                draft = synthesize(transcript, found, session, catalogue.themes, transcript_sha, keywords_sha, options)
                finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                written = store.write_stage(session_id, "synthesis", inputs, {"synthesis.md": draft.markdown}, {"pipeline_version": __version__, "finished_utc": finished})
                result = SessionResult(
                    Path(session_id), session_id, "drafted", transcript.duration, time.perf_counter() - started,
                    tuple(w.path for w in written), tuple(w.path for w in written if w.kept_edit), stage="synthesis",
                )
        except PipelineError as exc:
            result = SessionResult(Path(session_id), session_id, "failed", error=exc.one_line(), stage="synthesis")
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


def _stored_keywords(store: Store, session_id: str) -> SessionKeywords | None:
    path = store.path(session_id, "keywords.json")
    try:
        return keywords_io.loads(path.read_text(encoding="utf-8"), path)
    except (OSError, ValueError, KeyError, TypeError, PipelineError):
        return None


def _keywords_provenance(nlp: Any, transcript_sha: str, options_digest: str, documents: int) -> dict[str, object]:
    import datetime as dt

    import spacy

    return {
        "transcript_sha256": transcript_sha,
        "options": options_digest,
        "spacy_version": spacy.__version__,
        "spacy_model": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "series_sessions": documents,
        "pipeline_version": __version__,
        "generated_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
