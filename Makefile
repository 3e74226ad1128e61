# faultlab: `make demo` runs the offline default study, `make test` runs the tests.
# Both install into .venv first when needed (idempotent: a second `make install` does nothing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FAULTLAB := $(VENV)/bin/faultlab

.PHONY: install test test-all lint demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt torch torchvision
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m ''

lint: install
	$(VENV)/bin/ruff check .

demo: install
	$(FAULTLAB) fit --config experiments/train/mini_mobilenet.yaml
	$(FAULTLAB) test --config experiments/train/mini_mobilenet.yaml --ckpt_path runs/mini_mobilenet/checkpoints/last.ckpt

bench: install
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf runs results lightning_logs .pytest_cache .ruff_cache benchmarks/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
