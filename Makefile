# make demo: set up .venv and run the whole product on the procedural data (about 15 min on 2 CPU cores)
# make test: set up .venv and run the test suite (CPU, tiny models)
# make bench: set up .venv and print the benchmark tables (minutes)
# make bench-models: every model trained 7 minutes on the procedural data, then evaluated (~50 min)

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1

.PHONY: demo test bench bench-models clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/t2igan demo --out demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_renderer.py
	$(PY) benchmarks/bench_params.py

bench-models: $(STAMP)
	$(PY) benchmarks/bench_models.py --out bench-runs/models

clean:
	rm -rf $(VENV) demo
