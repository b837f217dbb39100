"""One stage interface: a stage written as one class and added with one line is planned, run,
reported, kept up to date and archived like the others, by the same planner and executor."""

from __future__ import annotations

import json

from pipeline import transcript as transcript_io
from pipeline.cli import _project
from pipeline.plan import State, make_plan
from pipeline.runner import execute
from pipeline.steps import COMPUTING, NAMES, STAGES, Outcome, Stage, StepResult, assemble
from pipeline.steps.base import Context
from pipeline.store import Names, fingerprint

from .test_editor_files import series  # noqa: F401 - the fixture


class WordCount(Stage):
    """The README's example: how many words each speaker said."""

    name = "wordcount"
    needs = {Names.TRANSCRIPT: ("no transcript", "run `pipeline run` first")}
    archived = ("wordcount.json",)

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return fingerprint({"transcript": ctx.project.store.sha256(session_id, Names.TRANSCRIPT), "version": 1})

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        transcript = transcript_io.load(ctx.project.store.path(session_id, Names.TRANSCRIPT))
        words = sum(len(segment.text.split()) for segment in transcript.segments)
        return Outcome("counted", {"wordcount.json": json.dumps({"words": words}) + "\n"}, transcript.duration)


class Reported:
    def __init__(self) -> None:
        self.finished: list[StepResult] = []

    def start(self, label: str, total_seconds: float) -> None:
        pass

    def advance(self, done_seconds: float) -> None:
        pass

    def finish(self, result: StepResult) -> None:
        self.finished.append(result)


def test_a_stage_added_with_one_line_is_planned_run_reported_and_archived(series, nlp):  # noqa: F811
    recordings, store = series
    project = _project(recordings, store.root, {})
    stages = assemble((*COMPUTING, WordCount()))
    before = make_plan(project, stages)
    assert {p.session.id: p.step("wordcount").state for p in before.sessions} == {"s-1": State.MISSING, "s-2": State.MISSING}
    reporter = Reported()
    report = execute(project, ("wordcount", "archive"), reporter=reporter, registry=stages)
    rows = [(r.session_id, r.stage, r.status) for r in report.results]
    assert rows == [
        ("s-1", "wordcount", "counted"),
        ("s-2", "wordcount", "counted"),
        ("s-1", "archive", "archived"),
        ("s-2", "archive", "archived"),
    ]
    assert [(r.session_id, r.stage) for r in reporter.finished] == [row[:2] for row in rows]
    assert json.loads(store.read_text("s-1", "wordcount.json"))["words"] == 217
    bag = store.bag_dir("s-1")
    assert (bag / "data" / "wordcount.json").is_file()
    assert "data/wordcount.json" in (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    after = make_plan(project, stages)
    assert all(p.step("wordcount").state is State.DONE and p.step("archive").state is State.DONE for p in after.sessions)
    again = execute(project, ("wordcount", "archive"), registry=stages)
    assert {r.status for r in again.results} == {"up to date"}
    store.path("s-2", Names.TRANSCRIPT_TXT).write_text(store.read_text("s-2", Names.TRANSCRIPT_TXT).replace("floue", "très floue"))
    assert make_plan(project, stages).sessions[1].step("wordcount").state is State.WAITING  # the stages before it first
    corrected = execute(project, ("transcript", "keywords", "synthesis"), load_nlp=lambda: nlp, registry=stages)
    assert {r.session_id for r in corrected.results if r.status != "up to date"} == {"s-2"}
    assert make_plan(project, stages).sessions[1].step("wordcount").state is State.STALE


def test_a_missing_input_is_one_line_naming_the_file_and_the_fix(series):  # noqa: F811
    recordings, store = series
    stages = assemble((*COMPUTING, WordCount()))
    store.path("s-1", Names.TRANSCRIPT).unlink()
    report = execute(_project(recordings, store.root, {}), ("wordcount",), ["s-1"], registry=stages)
    [row] = report.results
    assert row.status == "failed" and row.error.endswith("transcript.json: no transcript (run `pipeline run` first)")


def test_the_registry_is_the_order_runs_take_and_the_bag_carries_what_stages_declare():
    assert NAMES == ("transcribe", "speakers", "transcript", "keywords", "synthesis", "publish", "archive")
    archive = STAGES[-1]
    assert archive.payload == Names.ARCHIVED  # type: ignore[attr-defined]
