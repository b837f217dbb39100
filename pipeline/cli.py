"""The ``pipeline`` command: a thin layer of click commands over the library."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .catalogue import load_catalogue
from .errors import PipelineError
from .keywords import KeywordOptions, load_nlp
from .media import MEDIA_SUFFIXES
from .models import resolve_model
from .runner import RunReport, SessionResult, find_recordings, keywords_for_sessions, synthesize_sessions, transcribe_recordings
from .status import record_last_run, session_status
from .store import Store
from .synthesis import SynthesisOptions
from .transcribe import TranscriptionOptions, WhisperFactory, threads_per_job

console = Console(stderr=True)


class RichReporter:
    """Progress in audio seconds with an ETA, one bar per recording."""

    def __init__(self, progress: Progress, steps: int = 0) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        # One overall bar: every (session, stage) step of the run.
        self.overall = progress.add_task("[bold]Ensemble[/bold]", total=steps) if steps > 1 else None

    def start(self, recording: Path, total_seconds: float) -> None:
        """Open a bar for a recording."""
        self.task = self.progress.add_task(recording.name, total=max(total_seconds, 0.1))

    def advance(self, done_seconds: float) -> None:
        """Move the bar to ``done_seconds`` of audio."""
        if self.task is not None:
            self.progress.update(self.task, completed=done_seconds)

    def finish(self, result: SessionResult) -> None:
        """Close the bar and print one line about the recording."""
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        if self.overall is not None:
            self.progress.advance(self.overall)
        if result.status == "failed":
            self.progress.console.print(f"[red]✗[/red] {result.error}", highlight=False, soft_wrap=True)
        else:
            self.progress.console.print(f"[green]✓[/green] {result.recording.name}: {result.status}", highlight=False)
        for path in result.kept_edits:
            self.progress.console.print(f"[yellow]![/yellow] an edited file was kept; the new version is {path}", highlight=False, soft_wrap=True)


WAIT_OPTION = click.option("--wait", is_flag=True, help="If another run holds OUTPUTS, wait for it instead of stopping.")


def transcription_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every transcribing command shares."""
    defaults = TranscriptionOptions()
    decorators = [
        click.option("--model", default=defaults.model, show_default=True, help="Whisper size (base works offline), a local CTranslate2 folder, or a hub id."),
        click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default=defaults.device, show_default=True),
        click.option("--compute-type", default=defaults.compute_type, show_default=True, help="CTranslate2 compute type (auto: int8 on CPU, float16 on CUDA)."),
        click.option("--threads", "cpu_threads", type=int, default=defaults.cpu_threads, show_default=True, help="CPU threads (0: all cores)."),
        click.option("--language", default=defaults.language, show_default=True, help="Spoken language, or 'auto' to detect it."),
        click.option("--beam-size", type=click.IntRange(1, 20), default=defaults.beam_size, show_default=True),
        click.option("--batch-size", type=click.IntRange(0, 64), default=defaults.batch_size, show_default=True, help="0: sequential; N: batched inference."),
        click.option("--vad/--no-vad", default=defaults.vad, show_default=True, help="Skip non-speech with Silero VAD."),
        click.option("--vocabulary/--no-vocabulary", "use_vocabulary", default=defaults.use_vocabulary, show_default=True, help="Prime Whisper with the programme's terms and speakers."),
        click.option("--force", is_flag=True, help="Redo the work even when the outputs are up to date."),
        click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True),
        WAIT_OPTION,
        click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Recordings transcribed at once on this machine (CPU threads shared out)."),
        click.option("--scheduler", default=None, help="Send the recordings to this Dask scheduler (e.g. tcp://host:8786) instead."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _options(kwargs: dict[str, Any]) -> TranscriptionOptions:
    names = {f.name for f in fields(TranscriptionOptions)}
    values = {k: v for k, v in kwargs.items() if k in names}
    if values.get("language") == "auto":
        values["language"] = None
    return TranscriptionOptions(**values)


PROGRESS_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed:>6.0f}/{task.total:.0f}"),
    TimeElapsedColumn(),
    TextColumn("ETA"),
    TimeRemainingColumn(),
)


STAGE_NAMES = ("transcribe", "keywords", "synthesis", "publish")


def _run(recordings: Sequence[Path], catalogue_dir: Path, kwargs: dict[str, Any], with_keywords: bool) -> RunReport:
    options = _options(kwargs)
    catalogue = load_catalogue(catalogue_dir)
    store = Store(kwargs["outputs"])
    only = kwargs.get("only") or (STAGE_NAMES if with_keywords else ("transcribe",))
    wanted = set(kwargs.get("session") or ())
    if wanted:
        recordings = [r for r in recordings if catalogue.session_for(r).id in wanted]
        unknown = wanted - {catalogue.session_for(r).id for r in recordings}
        if unknown:
            raise PipelineError(catalogue_dir, f"no recording for session(s) {', '.join(sorted(unknown))}", "check the ids with `pipeline status`")
    ids = [catalogue.session_for(r).id for r in recordings]
    with store.lock(wait=kwargs["wait"]), Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
        reporter = RichReporter(progress, len(recordings) * len([stage for stage in only if stage != "publish"]))
        report = RunReport()
        if "transcribe" in only:
            jobs, scheduler = kwargs.get("jobs", 1), kwargs.get("scheduler")
            options = threads_per_job(options, jobs)
            report = transcribe_recordings(recordings, catalogue, store, options, WhisperFactory(options), reporter, kwargs["force"], jobs, scheduler)
            ids = [r.session_id for r in report.results if r.status != "failed"]
        if "keywords" in only:
            more = keywords_for_sessions(store, catalogue, KeywordOptions(), load_nlp, [i for i in ids if i in store.sessions_with("transcript.json")], reporter, force=kwargs["force"])
            report = RunReport(report.results + more.results)
            ids = [r.session_id for r in more.results if r.status != "failed"]
        if "synthesis" in only:
            drafts = synthesize_sessions(store, catalogue, SynthesisOptions(), [i for i in ids if i in store.sessions_with("keywords.json")], reporter, force=kwargs["force"])
            report = RunReport(report.results + drafts.results)
        if "publish" in only and store.sessions_with("synthesis.md"):
            from .site.publish import publish

            site = publish(store, catalogue, recordings=catalogue_dir)
            progress.console.print(f"Site: {site / 'index.html'}", highlight=False, soft_wrap=True)
        record_last_run(store, report)
    _summary(report)
    return report


def _summary(report: RunReport) -> None:
    table = Table(title="Summary", show_lines=False)
    for column in ("session", "stage", "status", "audio", "time", "× real time"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        speed = f"{r.wall_seconds / r.audio_seconds:.2f}" if r.status == "transcribed" and r.audio_seconds else ""
        audio = f"{r.audio_seconds:.0f} s" if r.audio_seconds else ""
        table.add_row(r.session_id, r.stage, r.status, audio, f"{r.wall_seconds:.1f} s", speed, style="red" if r.status == "failed" else None)
    console.print(table)
    folders = sorted({str(f.parent) for r in report.results for f in r.files})
    if folders:
        console.print("Outputs: " + ", ".join(f"{f}/" for f in folders), highlight=False, soft_wrap=True)
    if report.failed:
        console.print(f"[red]{len(report.failed)} of {len(report.results)} task(s) failed:[/red]")
        for r in report.failed:
            console.print(f"  {r.error}", highlight=False, soft_wrap=True, markup=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and tracebacks.")
def cli(verbose: bool) -> None:
    """Replay and synthesis pipeline of « Les nouveaux enjeux de la transition numérique des villes »."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
    )
    # The runner reports failures itself; its log line would print them twice.
    logging.getLogger("pipeline.runner").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


@cli.command("transcribe")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--catalogue", "catalogue_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True, help="Folder holding sessions.toml and themes.toml.")
@transcription_options
def transcribe_command(recordings: tuple[Path, ...], catalogue_dir: Path, **kwargs: Any) -> None:
    """Transcribe RECORDINGS into OUTPUTS/<session>/transcript.{json,txt,srt,vtt}."""
    report = _run(list(recordings), catalogue_dir, kwargs, with_keywords=False)
    sys.exit(1 if report.failed else 0)


@cli.command("run")
@click.option("--recordings", "recordings_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=Path("recordings"), show_default=True)
@click.option("--session", multiple=True, help="Only this session id (repeatable).")
@click.option("--only", type=click.Choice(STAGE_NAMES), multiple=True, help="Only this stage (repeatable).")
@transcription_options
def run_command(recordings_dir: Path, **kwargs: Any) -> None:
    """Run every stage over RECORDINGS: transcripts, keywords, draft syntheses, then the site."""
    recordings = find_recordings(recordings_dir)
    if not recordings:
        raise PipelineError(recordings_dir, "holds no recording", f"drop audio or video files ({', '.join(sorted(s.lstrip('.') for s in MEDIA_SUFFIXES))}) into it")
    report = _run(recordings, recordings_dir, kwargs, with_keywords=True)
    sys.exit(1 if report.failed else 0)


@cli.command("keywords")
@click.argument("sessions", nargs=-1)
@click.option("--catalogue", "catalogue_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True, help="Folder holding sessions.toml and themes.toml.")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--top", "top_n", type=click.IntRange(1, 200), default=KeywordOptions().top_n, show_default=True, help="Keywords kept per session.")
@click.option("--force", is_flag=True, help="Redo the work even when the outputs are up to date.")
@WAIT_OPTION
def keywords_command(sessions: tuple[str, ...], catalogue_dir: Path, outputs: Path, top_n: int, force: bool, wait: bool) -> None:
    """Keywords per theme for SESSIONS (default: every transcribed session) -> keywords.{json,md}."""
    catalogue = load_catalogue(catalogue_dir)
    store = Store(outputs)
    with store.lock(wait=wait), Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
        report = keywords_for_sessions(store, catalogue, KeywordOptions(top_n=top_n), load_nlp, list(sessions), RichReporter(progress), force=force)
    _summary(report)
    sys.exit(1 if report.failed else 0)


@cli.command("synthesize")
@click.argument("sessions", nargs=-1)
@click.option("--catalogue", "catalogue_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True, help="Folder holding sessions.toml and themes.toml.")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--force", is_flag=True, help="Redo the drafts even when they are up to date (an edited synthesis is still kept).")
@WAIT_OPTION
def synthesize_command(sessions: tuple[str, ...], catalogue_dir: Path, outputs: Path, force: bool, wait: bool) -> None:
    """Draft OUTPUTS/<session>/synthesis.md for SESSIONS (default: every session with keywords)."""
    catalogue = load_catalogue(catalogue_dir)
    store = Store(outputs)
    with store.lock(wait=wait), Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
        report = synthesize_sessions(store, catalogue, SynthesisOptions(), list(sessions), RichReporter(progress), force=force)
    _summary(report)
    sys.exit(1 if report.failed else 0)


@cli.command("publish")
@click.option("--catalogue", "catalogue_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True, help="Folder holding sessions.toml and themes.toml.")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--base-url", default="", help="Absolute address of the published site, for the Atom feed (optional).")
@WAIT_OPTION
def publish_command(catalogue_dir: Path, outputs: Path, base_url: str, wait: bool) -> None:
    """Build OUTPUTS/site/ from every session's synthesis (the editor's version), transcript and keywords."""
    from .site.publish import publish

    store = Store(outputs)
    with store.lock(wait=wait):
        site = publish(store, load_catalogue(catalogue_dir), base_url, recordings=catalogue_dir)
    console.print(f"Site written to {site}/ — open {site / 'index.html'}", highlight=False, soft_wrap=True)


@cli.command("archive")
@click.argument("sessions", nargs=-1)
@click.option("--catalogue", "catalogue_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True, help="Folder holding sessions.toml and the recordings.")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--with-media", is_flag=True, help="Put the recording itself in the bag (not only its checksum).")
@click.option("--rights", default=None, help="Rights statement for Dublin Core (default: all rights reserved).")
@WAIT_OPTION
def archive_command(sessions: tuple[str, ...], catalogue_dir: Path, outputs: Path, with_media: bool, rights: str | None, wait: bool) -> None:
    """Write OUTPUTS/archive/<session>/ as BagIt bags (SHA-256 + SHA-512, Dublin Core, provenance)."""
    from .archive import DEFAULT_RIGHTS, archive_session

    store = Store(outputs)
    catalogue = load_catalogue(catalogue_dir)
    failed = 0
    with store.lock(wait=wait):
        for session_id in sessions or tuple(store.sessions_with("transcript.json")):
            try:
                bag = archive_session(store, catalogue, session_id, catalogue_dir, with_media, rights or DEFAULT_RIGHTS)
                console.print(f"✓ {session_id}: {bag}/", highlight=False, soft_wrap=True)
            except PipelineError as exc:
                failed += 1
                console.print(f"✗ {exc.one_line()}", highlight=False, soft_wrap=True, markup=False)
    sys.exit(1 if failed else 0)


@cli.command("verify")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
def verify_command(outputs: Path) -> None:
    """Check the fixity of OUTPUTS and of every bag; list each altered or missing file (exit 1)."""
    from .archive import verify

    findings = verify(Store(outputs))
    for finding in findings:
        click.echo(f"{finding.path}: {finding.problem}")
    if findings:
        console.print(f"[red]{len(findings)} problem(s) found.[/red]")
        sys.exit(1)
    console.print("All files match their recorded checksums.")


@cli.command("status")
@click.option("--recordings", "recordings_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("recordings"), show_default=True)
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def status_command(recordings_dir: Path, outputs: Path, as_json: bool) -> None:
    """Sessions by stage (done, stale, missing, interrupted, failed, running) and what a run would do."""
    import json

    from .status import as_dicts, holder

    store = Store(outputs)
    statuses = session_status(store, load_catalogue(recordings_dir), recordings_dir)
    if as_json:
        click.echo(json.dumps(as_dicts(statuses), ensure_ascii=False, indent=2))
        return
    table = Table(title="Status")
    for column in ("session", "transcribe", "keywords", "synthesis", "next run"):
        table.add_column(column, overflow="fold")
    colours = {"done": "green", "stale": "yellow", "missing": "yellow", "interrupted": "yellow", "failed": "red", "running": "cyan"}
    for status in statuses:
        cells = []
        for stage in status.stages:
            text = f"[{colours.get(stage.state, 'white')}]{stage.state}[/]"
            if stage.seconds is not None:
                text += f" ({stage.seconds:.1f} s)"
            if stage.detail:
                text += f"\n{escape(stage.detail)}"
            cells.append(text)
        table.add_row(escape(status.session_id), *cells, escape(status.next_run))
    console.print(table)
    running = holder(store)
    if running:
        console.print(f"Running now: {running}", highlight=False)


@cli.command("model")
@click.argument("name", default="base")
def model_command(name: str) -> None:
    """Resolve and verify a Whisper model; print its folder and file hashes."""
    resolved = resolve_model(name)
    click.echo(f"{resolved.id}\n{resolved.path}")
    for file, digest in sorted(resolved.sha256.items()):
        click.echo(f"  {digest}  {file}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; maps library errors to one line and exit status 2."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="pipeline", standalone_mode=False)
    except PipelineError as exc:
        console.print(f"[red]error:[/red] {exc.one_line()}", highlight=False, soft_wrap=True)
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        console.print("aborted")
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
