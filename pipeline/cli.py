"""The ``pipeline`` command: a thin layer of click commands over the library."""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import PipelineError, shown
from .glossary import GLOSSARY_FILE, read_glossary
from .keywords import load_nlp
from .media import MEDIA_SUFFIXES
from .models import resolve_model
from .plan import STAGE_NAMES, Plan, Project, State, make_plan
from .runner import RunReport, StepResult, execute, outputs_of, transcriber_settings
from .settings import load_settings
from .store import Store
from .transcribe import WhisperFactory

console = Console(stderr=True)


class RichReporter:
    """Progress in audio seconds with an ETA, one bar per recording, one overall bar."""

    def __init__(self, progress: Progress, steps: int = 0) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self.overall = progress.add_task("[bold]Ensemble[/bold]", total=steps) if steps > 1 else None

    def start(self, label: str, total_seconds: float) -> None:
        """Open a bar for a recording."""
        self.task = self.progress.add_task(escape(shown(label)), total=max(total_seconds, 0.1))

    def advance(self, done_seconds: float) -> None:
        """Move the bar to ``done_seconds`` of audio."""
        if self.task is not None:
            self.progress.update(self.task, completed=done_seconds)

    def finish(self, result: StepResult) -> None:
        """Close the bar and print one line about the step."""
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        if self.overall is not None and result.status != "up to date":
            self.progress.advance(self.overall)
        out = self.progress.console
        if result.status == "failed":
            out.print(f"[red]✗[/red] {escape(result.error)}", highlight=False, soft_wrap=True)
        else:
            out.print(f"[green]✓[/green] {escape(shown(result.label))}: {result.stage} {result.status}", highlight=False, soft_wrap=True)
        for path in result.kept_edits:
            out.print(
                f"[yellow]![/yellow] an edited file was kept; the new version is {escape(shown(path))}", highlight=False, soft_wrap=True
            )


PROGRESS_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed:>6.0f}/{task.total:.0f}"),
    TimeElapsedColumn(),
    TextColumn("ETA"),
    TimeRemainingColumn(),
)


def _add(function: Callable[..., Any], decorators: Sequence[Callable[..., Any]]) -> Callable[..., Any]:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def folder_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Where the recordings (and their catalogue) are, and where outputs go."""
    return _add(
        function,
        [
            click.option(
                "--recordings",
                "--catalogue",
                "recordings_dir",
                type=click.Path(path_type=Path, file_okay=False),
                default=Path("recordings"),
                show_default=True,
                help="Folder of the recordings, sessions.toml, themes.toml and pipeline.toml.",
            ),
            click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True),
        ],
    )


def run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Options of every command that writes."""
    return _add(
        function,
        [
            click.option("--force", is_flag=True, help="Redo the work even when the outputs are up to date (edited files are still kept)."),
            click.option("--wait", is_flag=True, help="If another run holds OUTPUTS, wait for it instead of stopping."),
        ],
    )


def transcription_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Options that override ``[transcription]`` and ``[engine]`` of pipeline.toml."""
    return _add(
        function,
        [
            click.option(
                "--model", default=None, help="Whisper size (base works offline), a local CTranslate2 folder, or a hub id. [default: base]"
            ),
            click.option("--language", default=None, help="Spoken language, or 'auto' to detect it. [default: fr]"),
            click.option("--beam-size", type=click.IntRange(1, 20), default=None, help="[default: 5]"),
            click.option(
                "--batch-size", type=click.IntRange(0, 64), default=None, help="0: sequential; N: batched inference. [default: 8]"
            ),
            click.option("--vad/--no-vad", default=None, help="Skip non-speech with Silero VAD. [default: vad]"),
            click.option("--guard/--no-guard", default=None, help="Decode again speech that gave no words. [default: guard]"),
            click.option(
                "--speakers", "speaker_count", type=click.IntRange(1, 20), default=None, help="The number of speakers, when known."
            ),
            click.option("--min-speakers", type=click.IntRange(1, 20), default=None, help="Fewest speakers to consider. [default: 1]"),
            click.option("--max-speakers", type=click.IntRange(1, 20), default=None, help="Most speakers to consider. [default: no bound]"),
            click.option("--no-speakers", is_flag=True, default=None, help="Do not attribute words to speakers."),
            click.option(
                "--vocabulary/--no-vocabulary",
                "use_vocabulary",
                default=None,
                help="Correct the spelling of speakers' names and glossary terms after decoding. [default: vocabulary]",
            ),
            click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default=None, help="[default: cpu]"),
            click.option("--compute-type", default=None, help="CTranslate2 compute type (auto: int8 on CPU, float16 on CUDA)."),
            click.option("--threads", "cpu_threads", type=int, default=None, help="CPU threads (0: all cores)."),
            click.option(
                "--streams",
                type=click.IntRange(0, 64),
                default=None,
                help="Batches decoded side by side on the CPU, the threads shared out (0: one per thread, at most 4).",
            ),
            click.option(
                "--jobs",
                type=click.IntRange(1, 64),
                default=None,
                help="Recordings transcribed at once on this machine (CPU threads shared out).",
            ),
            click.option("--scheduler", default=None, help="Send the recordings to this Dask scheduler (e.g. tcp://host:8786) instead."),
        ],
    )


TRANSCRIPTION_KEYS = ("model", "language", "beam_size", "batch_size", "vad", "guard")
ENGINE_KEYS = ("device", "compute_type", "cpu_threads", "streams", "jobs", "scheduler")


def _project(recordings_dir: Path, outputs: Path, kwargs: dict[str, Any], explicit: Sequence[Path] | None = None) -> Project:
    """The project: catalogue and settings from ``recordings_dir``, command-line overrides."""
    settings = load_settings(recordings_dir)
    transcription = {k: kwargs.get(k) for k in TRANSCRIPTION_KEYS}
    if transcription.get("language") == "auto":
        transcription["language"] = ""
    settings = settings.overridden(
        transcription=transcription,
        engine={k: kwargs.get(k) for k in ENGINE_KEYS},
        vocabulary={"enabled": kwargs.get("use_vocabulary")},
        speakers={
            "enabled": False if kwargs.get("no_speakers") else None,
            "count": kwargs.get("speaker_count"),
            "min_speakers": kwargs.get("min_speakers"),
            "max_speakers": kwargs.get("max_speakers"),
        },
        keywords={"top_n": kwargs.get("top_n")},
        publish={"base_url": kwargs.get("base_url")},
        archive={"with_media": kwargs.get("with_media") or None, "rights": kwargs.get("rights")},
    )
    if settings.transcription.language == "":
        from dataclasses import replace

        settings = replace(settings, transcription=replace(settings.transcription, language=None))
    return Project.load(recordings_dir, outputs, settings, tuple(explicit) if explicit is not None else None)


def _execute(project: Project, stages: Sequence[str], session_ids: Sequence[str] | None, force: bool, wait: bool) -> RunReport:
    """Run stages under the lock, with progress bars, then print the summary."""
    project = transcriber_settings(project)
    with project.store.lock(wait=wait):
        todo = sum(1 for p in make_plan(project).sessions for s in p.steps if s.stage in stages and s.todo)
        with Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
            report = execute(
                project,
                stages,
                session_ids,
                force,
                make_transcriber=WhisperFactory(project.settings.transcription, project.settings.engine)
                if "transcribe" in stages
                else None,
                load_nlp=load_nlp,
                reporter=RichReporter(progress, todo),
            )
    _summary(report, project)
    return report


def _summary(report: RunReport, project: Project) -> None:
    table = Table(title="Summary", show_lines=False)
    for column in ("session", "stage", "status", "audio", "time", "× real time"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        speed = (
            f"{r.wall_seconds / r.audio_seconds:.2f}"
            if r.stage == "transcribe" and r.status != "failed" and r.audio_seconds and r.wall_seconds
            else ""
        )
        audio = f"{r.audio_seconds:.0f} s" if r.audio_seconds else ""
        table.add_row(
            escape(r.session_id or "—"),
            r.stage,
            r.status,
            audio,
            f"{r.wall_seconds:.1f} s",
            speed,
            style="red" if r.status == "failed" else None,
        )
    console.print(table)
    folders = outputs_of(report.results)
    if folders:
        console.print("Outputs: " + ", ".join(f"{f}/" for f in folders), highlight=False, soft_wrap=True, markup=False)
    site = project.store.site_dir / "index.html"
    if any(r.stage == "publish" and r.status == "published" for r in report.results):
        console.print(f"Site: {site}", highlight=False, soft_wrap=True, markup=False)
    if report.failed:
        console.print(f"[red]{len(report.failed)} of {len(report.results)} step(s) failed:[/red]")
        for r in report.failed:
            console.print(f"  {r.error}", highlight=False, soft_wrap=True, markup=False)


def _exit(report: RunReport) -> None:
    sys.exit(1 if report.failed else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and tracebacks.")
@click.pass_context
def cli(context: click.Context, verbose: bool) -> None:
    """Replay and synthesis pipeline of « Les nouveaux enjeux de la transition numérique des villes »."""
    context.obj = {"verbose": verbose}
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
        force=True,
    )
    # The runner reports failures itself; its log line would print them twice.
    logging.getLogger("pipeline.runner").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


@cli.command("run")
@folder_options
@click.option("--session", "sessions", multiple=True, help="Only this session id (repeatable).")
@click.option("--only", type=click.Choice(STAGE_NAMES), multiple=True, help="Only this stage (repeatable).")
@run_options
@transcription_options
def run_command(
    recordings_dir: Path, outputs: Path, sessions: tuple[str, ...], only: tuple[str, ...], force: bool, wait: bool, **kwargs: Any
) -> None:
    """Every stage over RECORDINGS: transcripts, keywords, draft syntheses, the site, the archive."""
    if not recordings_dir.is_dir():
        raise PipelineError(recordings_dir, "is not a folder", "create it and drop the recordings into it, or pass --recordings DIR")
    project = _project(recordings_dir, outputs, kwargs)
    if not project.recordings() and not project.store.sessions():
        suffixes = ", ".join(sorted(s.lstrip(".") for s in MEDIA_SUFFIXES))
        raise PipelineError(recordings_dir, "holds no recording", f"drop audio or video files ({suffixes}) into it")
    if sessions:
        known = {p.session.id for p in make_plan(project).sessions}
        unknown = sorted(set(sessions) - known)
        if unknown:
            raise PipelineError(
                recordings_dir, f"no recording or outputs for session(s) {', '.join(unknown)}", "check the ids with `pipeline status`"
            )
    from .check import check_project

    for problem in check_project(project):
        if not problem.error:  # errors come back as failed rows, in the run's summary
            console.print(f"[yellow]![/yellow] {escape(problem.one_line())}", highlight=False, soft_wrap=True)
    _exit(_execute(project, only or STAGE_NAMES, list(sessions) or None, force, wait))


@cli.command("check")
@folder_options
def check_command(recordings_dir: Path, outputs: Path) -> None:
    """Check the catalogue and the recordings folder before any work: errors (exit 1) and warnings."""
    from .check import check_project

    problems = check_project(_project(recordings_dir, outputs, {}))
    for problem in problems:
        mark = "[red]✗[/red]" if problem.error else "[yellow]![/yellow]"
        console.print(f"{mark} {escape(problem.one_line())}", highlight=False, soft_wrap=True)
    errors = sum(p.error for p in problems)
    console.print(
        f"{errors} error(s), {len(problems) - errors} warning(s)." if problems else "The catalogue and the recordings are in order."
    )
    sys.exit(1 if errors else 0)


@cli.command("transcribe")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@folder_options
@run_options
@transcription_options
def transcribe_command(recordings: tuple[Path, ...], recordings_dir: Path, outputs: Path, force: bool, wait: bool, **kwargs: Any) -> None:
    """Transcribe RECORDINGS into OUTPUTS/<session>/transcript.{json,txt,srt,vtt}."""
    project = _project(recordings_dir, outputs, kwargs, explicit=recordings)
    _exit(_execute(project, ("transcribe", "speakers", "transcript"), None, force, wait))


@cli.command("keywords")
@click.argument("sessions", nargs=-1)
@folder_options
@click.option("--top", "top_n", type=click.IntRange(1, 200), default=None, help="Keywords kept per session. [default: 30]")
@run_options
def keywords_command(sessions: tuple[str, ...], recordings_dir: Path, outputs: Path, force: bool, wait: bool, **kwargs: Any) -> None:
    """Keywords per theme for SESSIONS (default: every transcribed session) -> keywords.{json,md}."""
    _exit(_execute(_project(recordings_dir, outputs, kwargs), ("keywords",), list(sessions) or None, force, wait))


@cli.command("synthesize")
@click.argument("sessions", nargs=-1)
@folder_options
@run_options
def synthesize_command(sessions: tuple[str, ...], recordings_dir: Path, outputs: Path, force: bool, wait: bool) -> None:
    """Draft OUTPUTS/<session>/synthesis.md for SESSIONS (default: every session with keywords)."""
    _exit(_execute(_project(recordings_dir, outputs, {}), ("synthesis",), list(sessions) or None, force, wait))


@cli.command("publish")
@folder_options
@click.option("--base-url", default=None, help="Absolute address of the published site, for the Atom feed (optional).")
@run_options
def publish_command(recordings_dir: Path, outputs: Path, force: bool, wait: bool, **kwargs: Any) -> None:
    """Build OUTPUTS/site/ from every session's synthesis (the editor's version), transcript and keywords."""
    _exit(_execute(_project(recordings_dir, outputs, kwargs), ("publish",), None, force, wait))


@cli.command("archive")
@click.argument("sessions", nargs=-1)
@folder_options
@click.option("--with-media", is_flag=True, help="Put the recording itself in the bag (not only its checksum).")
@click.option("--rights", default=None, help="Rights statement for Dublin Core (default: all rights reserved).")
@run_options
def archive_command(sessions: tuple[str, ...], recordings_dir: Path, outputs: Path, force: bool, wait: bool, **kwargs: Any) -> None:
    """Write OUTPUTS/archive/<session>/ as BagIt bags (SHA-256 + SHA-512, Dublin Core, provenance)."""
    _exit(_execute(_project(recordings_dir, outputs, kwargs), ("archive",), list(sessions) or None, force, wait))


@cli.command("verify")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
def verify_command(outputs: Path) -> None:
    """Check the fixity of OUTPUTS and of every bag; list each altered or missing file (exit 1) and each editor's edit not yet applied."""
    from .archive import verify

    findings = verify(Store(outputs))
    for finding in findings:
        click.echo(f"{finding.path}: {finding.problem}")
    damaged = [f for f in findings if f.damage]
    if damaged:
        console.print(f"[red]{len(damaged)} problem(s) found.[/red]")
        sys.exit(1)
    edits = len(findings) - len(damaged)
    console.print("All files match their recorded checksums" + (f", apart from {edits} edit(s) not yet applied." if edits else "."))


@cli.command("serve")
@click.option("--outputs", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: the local network).")
@click.option("--port", type=int, default=8000, show_default=True)
def serve_command(outputs: Path, host: str, port: int) -> None:
    """Preview OUTPUTS/site/ in a browser, with byte ranges (the player can seek), until Ctrl-C."""
    from .site.serve import make_server

    site = Store(outputs).site_dir
    if not (site / "index.html").is_file():
        raise click.ClickException(f"{site}: no published site (run `pipeline publish` first)")
    with listening(host, port):
        server = make_server(site, host, port)
    console.print(f"Site at http://{host}:{server.server_address[1]}/ — Ctrl-C to stop.")
    serve_until_stopped(server)


@contextlib.contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    """A server that cannot take its port is one line naming it and the fix."""
    try:
        yield
    except OSError as exc:
        raise click.ClickException(f"{host}:{port}: cannot listen ({exc.strerror}) (choose another --port)") from exc


def serve_until_stopped(server: socketserver.BaseServer) -> None:
    """Serve until Ctrl-C, then close the socket."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COLOURS = {
    State.DONE: "green",
    State.STALE: "yellow",
    State.MISSING: "yellow",
    State.WAITING: "yellow",
    State.INTERRUPTED: "yellow",
    State.FAILED: "red",
    State.RUNNING: "cyan",
}


def plan_as_dicts(plan: Plan) -> dict[str, Any]:
    """JSON-ready plan (for ``pipeline status --json``)."""
    return {
        "running": plan.running,
        "sessions": [
            {
                "session_id": p.session.id,
                "recording": shown(p.recording.name) if p.recording else "",
                "stages": [{"stage": s.stage, "state": s.state.value, "detail": s.reason, "seconds": s.seconds} for s in p.steps],
                "next_run": p.next_run,
            }
            for p in plan.sessions
        ],
        "series": [{"stage": s.stage, "state": s.state.value, "detail": s.reason} for s in plan.series],
    }


def _editorial_status(store: Store, session_id: str) -> str:
    """A session's synthesis as editors see it: its editorial status, or why it cannot be read."""
    from .store import Names
    from .synthesis import STATUS_LABELS, read_synthesis

    path = store.path(session_id, Names.SYNTHESIS)
    if not path.exists():
        return ""
    try:
        status = read_synthesis(path.read_text(encoding="utf-8"), path).status
    except PipelineError as exc:
        return exc.one_line()
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text (save it as UTF-8)"
    edited = "edited" if store.is_edited(session_id, Names.SYNTHESIS) else "as drafted"
    return f"{STATUS_LABELS[status]} ({status}), {edited}"


@cli.command("status")
@folder_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def status_command(recordings_dir: Path, outputs: Path, as_json: bool) -> None:
    """Sessions by stage (done, stale, missing, waiting, interrupted, failed, running) and what a run would do."""
    project = _project(recordings_dir, outputs, {})
    plan, plan_store = make_plan(project), project.store
    if as_json:
        data = plan_as_dicts(plan)
        for entry in data["sessions"]:
            entry["synthesis"] = _editorial_status(plan_store, entry["session_id"])
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    width = max((len(s.stage) for p in plan.sessions for s in p.steps), default=10)
    for session in plan.sessions:
        origin = f" ({escape(shown(session.recording.name))})" if session.recording else ""
        console.print(f"[bold]{escape(session.session.id)}[/bold]{origin}", highlight=False, soft_wrap=True)
        for step in session.steps:
            seconds = f" ({step.seconds:.1f} s)" if step.seconds is not None else ""
            reason = f" — {escape(step.reason)}" if step.reason else ""
            console.print(
                f"  {step.stage:<{width}}  [{COLOURS[step.state]}]{step.state}[/]{seconds}{reason}", highlight=False, soft_wrap=True
            )
        console.print(f"  next run: {escape(session.next_run)}", highlight=False, soft_wrap=True)
        editorial = _editorial_status(plan_store, session.session.id)
        if editorial:
            console.print(f"  synthesis: {escape(editorial)}", highlight=False, soft_wrap=True)
    for step in plan.series:
        console.print(
            f"{step.stage}: [{COLOURS[step.state]}]{step.state}[/]" + (f" ({escape(step.reason)})" if step.reason else ""), highlight=False
        )
    if plan.running:
        console.print(f"Running now: {escape(plan.running)}", highlight=False)


@cli.command("review")
@folder_options
@click.option("--port", type=int, default=0, help="Port to listen on (0: a free one).")
def review_command(recordings_dir: Path, outputs: Path, port: int) -> None:
    """The editor's workbench: each session's sound beside its text, flags, voices, glossary
    proposals and synthesis, on 127.0.0.1 behind a token made for this launch, until Ctrl-C."""
    from .workbench import Workbench
    from .workbench.server import make_workbench

    with listening("127.0.0.1", port):
        server, url = make_workbench(Workbench(recordings_dir, outputs), port)
    console.print(f"Atelier de relecture : {url}\n(ouvrez cette adresse ; Ctrl-C pour arrêter)", highlight=False)
    serve_until_stopped(server)


@cli.command("glossary")
@folder_options
@click.option("--accept", "accepted", type=int, multiple=True, metavar="N", help="Add proposal N to glossary.toml (repeatable).")
@click.option("--accept-all", is_flag=True, help="Add every proposal.")
def glossary_command(recordings_dir: Path, outputs: Path, accepted: tuple[int, ...], accept_all: bool) -> None:
    """The glossary's terms, and what the editors' corrections propose to add to it."""
    from . import transcript as transcript_io
    from .glossary import HEADER, appended, proposals
    from .store import Names, atomic_write

    path = recordings_dir / GLOSSARY_FILE
    glossary = read_glossary(path)
    store = Store(outputs)
    found = proposals((transcript_io.load(store.path(s, Names.TRANSCRIPT)) for s in store.sessions_with(Names.TRANSCRIPT)), glossary)
    chosen = list(range(1, len(found) + 1)) if accept_all else list(accepted)
    wrong = [n for n in chosen if not 1 <= n <= len(found)]
    if wrong:
        raise click.BadParameter(
            f"no proposal {wrong[0]} (there are {len(found)}): run `pipeline glossary` to list them", param_hint="--accept"
        )
    if chosen:
        existing = path.read_text(encoding="utf-8-sig") if path.exists() else HEADER
        atomic_write(path, appended(existing, [found[n - 1] for n in chosen]).encode("utf-8"))
        for n in chosen:
            console.print(f"added: « {escape(found[n - 1].heard)} » → « {escape(found[n - 1].text)} »", highlight=False)
        console.print(f"{path} updated: the next run corrects every session with it.", highlight=False)
        return
    console.print(f"{path}: {len(glossary)} term(s).", highlight=False)
    if not found:
        console.print("No proposal: the editors' corrections hold nothing the glossary lacks.")
        return
    console.print("Proposed by the editors' corrections (accept with --accept N):")
    for n, proposal in enumerate(found, start=1):
        click.echo(f"{n:3}. « {proposal.heard} » → « {proposal.text} »  ({proposal.session_id}, {proposal.start:.0f} s)")


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
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="pipeline", standalone_mode=False)
    except PipelineError as exc:
        console.print(f"[red]error:[/red] {escape(exc.one_line())}", highlight=False, soft_wrap=True)
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
    except Exception as exc:  # the last resort: one line, the traceback only with --verbose
        if verbose:
            raise
        console.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {escape(shown(exc))} (run with --verbose for the traceback and report it)",
            highlight=False,
            soft_wrap=True,
        )
        return 3
    return 0
