# One-command workflows. Everything runs inside .venv (created by `make install`).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-bench test test-all export sync-check docs docs-test bench bench-quick clean

install:            ## create .venv with the CPU torch wheel, the project (editable) and dev tools
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -c constraints.txt -e ".[dev,docs,hf]"

test:               ## the whole test suite (every notebook's tests + CLI/docs/distributed tests)
	$(BIN)/python -m pytest -n 2

test-all:           ## also run the cells flagged `slow` (long trainings and sweeps)
	REFORMER_TEST_FLAGS=slow $(BIN)/python -m pytest -n 2

export:             ## notebooks -> library, then strip notebook metadata/outputs
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean

sync-check: export  ## fail if the library or notebooks changed after export+clean
	@test -z "$$(git status --porcelain nbs reformer_repro)" || (git status --porcelain nbs reformer_repro; echo "library and notebooks are out of sync: run make export and commit"; exit 1)

docs:               ## build the offline docs site into docs/site (open docs/site/index.html)
	$(BIN)/python docs/build.py

docs-test: docs     ## check the built site (pages, API signatures, report tables, images)
	DOCS_SITE_DIR=docs/site $(BIN)/python -m pytest -q tests/test_docs.py

install-bench:      ## add the peer benchmark's peers to .venv: reformer-pytorch and HF transformers 5.x (the [bench] extra)
	$(BIN)/pip install -c constraints.txt -e ".[bench]"

bench:              ## the peer benchmark, full grid (25-50 min on 2 cores, in 25-min parts: BENCH_ARGS=--resume goes on): results/bench/peers_cpu.{json,md}, plots/peers_cpu.png
	$(BIN)/python experiments/bench_peers.py $(BENCH_ARGS)

bench-quick:        ## the peer benchmark's tiny grid (< 2 min): results/bench/peers_cpu_quick.*
	$(BIN)/python experiments/bench_peers.py --quick $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info _proc _docs docs/site .pytest_cache
