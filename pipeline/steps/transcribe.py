"""The ``transcribe`` step: what Whisper heard in each recording (:mod:`pipeline.transcribe`).

Its subject is a recording, not a session folder, and it may run elsewhere: each recording's
transcription is a picklable :class:`RecordingJob`, run in this process, in a local process
pool (``--jobs``) or on a Dask cluster (``--scheduler``). Resumable from a checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .. import transcript as transcript_io
from ..catalogue import Catalogue, Session
from ..errors import ModelError, PipelineError, RecordingError, shown
from ..media import Recording, declared_seconds, decode, not_a_recording_file, probe, sha256_file
from ..models import model_identity
from ..project import Project, Source, State, Step
from ..store import Names, StageRecord, Store, fingerprint
from ..transcribe import EngineOptions, Transcriber, TranscriptionOptions, WhisperFactory, threads_per_job, transcribe
from ..transcribe import inputs as transcribe_inputs
from .base import Context, Last, Outcome, Reporter, SilentReporter, Stage, StepResult, failure, recorded

log = logging.getLogger("pipeline.runner")


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
    return fingerprint(transcribe_inputs(sha, options, model_identity(options.model)))


def _unchanged_since_probe(recording: Recording) -> None:
    """Refuse a recording that was replaced or rewritten while it was being transcribed:
    its transcript would describe a file that no longer exists."""
    try:
        same = recording.path.stat().st_size == recording.size and sha256_file(recording.path) == recording.sha256
    except OSError:
        same = False
    if not same:
        raise RecordingError(
            recording.path, "was replaced or changed while it was being transcribed", "run again once the copy is complete"
        )


@dataclass(frozen=True)
class RecordingJob:
    """One recording's transcription, picklable, so that the same code runs in-process, in
    a local process pool (``--jobs``) or on a Dask cluster (``--scheduler``)."""

    path: Path
    session: Session
    catalogue: Catalogue
    outputs: Path
    options: TranscriptionOptions
    inputs: str
    make_transcriber: Callable[[], Transcriber]

    def run(
        self, get_transcriber: Callable[[], Transcriber], reporter: Reporter, keep: Callable[[str, np.ndarray], None] | None = None
    ) -> StepResult:
        """Probe, decode, transcribe (resuming a checkpoint), check, write through the store.
        ``keep`` is given the recording's SHA-256 and decoded samples once it is transcribed
        (in-process runs: the speakers stage takes them instead of decoding again)."""
        started = time.perf_counter()
        store, session = Store(self.outputs), self.session
        try:
            recording = probe(self.path)
            reporter.start(self.path.name, recording.duration)
            audio = decode(recording, pcm16=True)  # half the memory; each block becomes float as it is decoded
            transcriber = get_transcriber()
            done = [transcript_io.segment_from_dict(item) for item in store.read_checkpoint(session.id, "transcribe", self.inputs)]
            if done:
                log.info("%s: resuming after %.1f s already transcribed", self.path, done[-1].end)
                reporter.advance(done[-1].end)
            with store.checkpoint(session.id, "transcribe", self.inputs, len(done)) as save:
                transcript = transcribe(
                    recording, audio, session.id, transcriber, self.options, reporter.advance, done, lambda s: save(asdict(s))
                )
            _unchanged_since_probe(recording)
            files = {Names.ASR: transcript_io.dumps(transcript)}
            facts = {"redecoded": len(transcript.quality.redecoded), "seconds_without_words": transcript.quality.seconds_without_words}
            record = StageRecord(self.inputs, finished_utc=transcript.provenance.finished_utc, pipeline_version=__version__, facts=facts)
            written = store.write_stage(session.id, "transcribe", self.inputs, files, record)
            store.drop_checkpoint(session.id, "transcribe")
            if keep is not None:
                keep(recording.sha256, audio)
            del audio
            return StepResult(
                session.id,
                "transcribe",
                "transcribed",
                self.path,
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=self.inputs,
            )
        except ModelError:
            raise  # the model serves every recording: nothing else can run, so stop here
        except Exception as exc:
            return failure(exc, self.path, session.id, "transcribe", started, self.path, self.inputs)

    def __call__(self) -> StepResult:
        """Run the job where it lands (workers share nothing but ``outputs/``)."""

        def get_transcriber() -> Transcriber:
            if self.make_transcriber not in _WORKER_TRANSCRIBERS:
                _WORKER_TRANSCRIBERS[self.make_transcriber] = self.make_transcriber()
            return _WORKER_TRANSCRIBERS[self.make_transcriber]

        return self.run(get_transcriber, SilentReporter())


# One transcriber per worker process, loaded on its first job and reused by the next ones:
# loading Whisper costs seconds, a job may be minutes, and a worker runs many jobs.
_WORKER_TRANSCRIBERS: dict[Any, Transcriber] = {}


def _call(job: RecordingJob) -> StepResult:
    return job()


def _run_jobs(batch: Sequence[RecordingJob], engine: EngineOptions, reporter: Reporter) -> list[StepResult]:
    results: list[StepResult] = []
    if engine.scheduler:
        from dask.distributed import Client, as_completed

        with Client(engine.scheduler) as client:  # type: ignore[no-untyped-call]
            for future in as_completed(client.map(_call, batch, pure=False)):  # type: ignore[no-untyped-call]
                results.append(future.result())
                reporter.finish(results[-1])
        return results
    import concurrent.futures
    import multiprocessing

    # fork would copy a loaded model's threads; spawn starts each worker clean.
    with concurrent.futures.ProcessPoolExecutor(engine.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in concurrent.futures.as_completed([pool.submit(_call, job) for job in batch]):
            results.append(future.result())
            reporter.finish(results[-1])
    return results


def transcriber_settings(project: Project) -> Project:
    """The project with its CPU threads shared out among parallel jobs."""
    return replace(project, settings=replace(project.settings, engine=threads_per_job(project.settings.engine)))


class TranscribeStage(Stage):
    """Every recording whose transcript is not up to date; failures are reported, never
    raised. Its steps are recordings: a recording that cannot be used is a failed row keyed
    by its file too (the session itself belongs to the other recording, which goes on)."""

    name = "transcribe"
    archived = (Names.ASR,)

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        project = ctx.project
        source = next(s for s in project.sources() if s.session.id == session_id and not s.error)
        return transcribe_fingerprint(project, source.session, source.path)

    def step_of(self, project: Project, session: Session, recording: Path | None, error: str = "") -> Step:
        """The transcription step of a session (``error``: its recording cannot be used)."""
        store = project.store
        if error:
            return Step(self.name, State.FAILED, error)
        if recording is None:
            has = store.path(session.id, Names.ASR).exists()
            return Step(self.name, State.DONE if has else State.MISSING, "recording not in recordings/")
        try:
            inputs = transcribe_fingerprint(project, session, recording)
        except PipelineError as exc:
            return Step(self.name, State.FAILED, exc.one_line())
        last: Last = store.last_run()
        step = recorded(self, project, session.id, store.state(session.id), inputs, last)
        partial = store.read_checkpoint(session.id, self.name, inputs) if step.todo else []
        if partial:
            running = store.holder()
            step = Step(self.name, State.RUNNING if running else State.INTERRUPTED, f"{partial[-1]['end']:.0f} s transcribed", inputs)
        return step

    def _steps(self, ctx: Context, session_ids: Sequence[str] | None) -> Iterator[tuple[Source, str | None, StepResult | None]]:
        """Each recording to consider, with the inputs of its step (to run) or its result."""
        project = ctx.project
        for source in project.sources():
            if session_ids is not None and source.session.id not in session_ids:
                continue
            if source.error:
                key = f"{source.session.id} ({shown(source.path.name)})"
                yield source, None, StepResult(key, self.name, "failed", source.path, error=source.error)
                continue
            started = time.perf_counter()
            try:
                inputs = transcribe_fingerprint(project, source.session, source.path)
            except PipelineError as exc:
                yield source, None, failure(exc, source.path, source.session.id, self.name, started, source.path)
                continue
            if not ctx.force and project.store.is_fresh(source.session.id, self.name, inputs):
                yield source, None, StepResult(source.session.id, self.name, "up to date", source.path, inputs=inputs)
            else:
                yield source, inputs, None

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        raise NotImplementedError("transcriptions run as recording jobs (run_all)")

    def run_all(self, ctx: Context, session_ids: Sequence[str] | None) -> list[StepResult]:
        """``engine.jobs`` > 1 runs them in that many local processes (CPU threads shared
        out); ``engine.scheduler`` sends them to a Dask cluster. Both run the same
        :class:`RecordingJob`; results come back in the order recordings end."""
        project, reporter = ctx.project, ctx.reporter
        make_transcriber = ctx.models.make_transcriber
        if make_transcriber is None:
            raise ValueError("transcription needs make_transcriber")
        engine = project.settings.engine
        results: list[StepResult] = []
        jobs: list[RecordingJob] = []
        for source, inputs, result in self._steps(ctx, session_ids):
            if result is not None:
                reporter.finish(result)
                results.append(result)
            elif inputs is not None:
                jobs.append(
                    RecordingJob(
                        source.path,
                        source.session,
                        project.catalogue,
                        project.store.root,
                        project.settings.transcription,
                        inputs,
                        make_transcriber,
                    )
                )
        if engine.jobs <= 1 and not engine.scheduler:
            if isinstance(make_transcriber, WhisperFactory) and jobs:
                # short recordings alone: one stream on every thread (WhisperFactory.for_recordings)
                lengths = [seconds for seconds in map(declared_seconds, (job.path for job in jobs)) if seconds is not None]
                if len(lengths) == len(jobs):
                    make_transcriber = make_transcriber.for_recordings(lengths)
            for job in jobs:
                ctx.decoded = None  # one recording's samples at a time
                result = job.run(lambda: ctx.models.get("transcriber", make_transcriber), reporter, ctx.keep_decoded)
                reporter.finish(result)
                results.append(result)
            # Every recording of this run is transcribed: Whisper's memory goes back before the
            # voice encoders take theirs (a one-hour run peaked with both; README « Speed »).
            ctx.models.release("transcriber")
        elif jobs:
            results += _run_jobs(jobs, engine, reporter)
        return results
