# bgsub: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP      := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint fuzz bench bench-accuracy figures clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { tools/system-deps.sh venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/bgsub demo --output demo-output

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks

NAPARI_STAMP := $(VENV)/.installed-napari
$(NAPARI_STAMP): $(TEST_STAMP)
	@tools/system-deps.sh napari
	$(BIN)/python -m pip install --quiet -e ".[napari-test]"
	@touch $@

test: $(TEST_STAMP) $(NAPARI_STAMP) lint
	@tools/system-deps.sh imagej || echo "ImageJ not installed: its fidelity tests will be skipped"
	$(BIN)/python -m pytest

# Mutated TIFF/OME-TIFF/ImageJ/PNG/JPEG/Zarr inputs against the readers (docs/robustness.md).
FUZZ_SECONDS ?= 120
FUZZ_SEED    ?= 0
fuzz: $(TEST_STAMP)
	$(BIN)/python benchmarks/fuzz_readers.py --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) \
		--keep fuzz-failures

$(BENCH_STAMP): $(TEST_STAMP) benchmarks/requirements.txt benchmarks/requirements-data.txt
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r benchmarks/requirements-data.txt
	@tools/system-deps.sh imagej || echo "ImageJ not installed: bench_imagej.py will skip its table"
	@touch $@

# Every benchmarks/bench_*.py in turn (BENCH_ARGS=--quick for a shorter run); docs/benchmarks.md
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-accuracy: $(BENCH_STAMP)
	$(BIN)/python benchmarks/accuracy.py

# The README's figures (docs/images/compare.png, sweep.png, sweep_minmax.png).
figures: $(STAMP)
	$(BIN)/python docs/images/make_figures.py

clean:
	rm -rf $(VENV) demo-output fuzz-failures .pytest_cache .ruff_cache .hypothesis
