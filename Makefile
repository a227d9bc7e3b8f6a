# Two commands do all set-up on a fresh machine: `make run` (a Crafter episode with the full
# memory agent) and `make test` (the whole test suite). Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup run test bench lint demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

run: setup
	$(VENV)/bin/embodied-mem run $(ARGS)

demo: setup
	$(VENV)/bin/embodied-mem demo

test: setup
	bash scripts/test.sh $(VENV) $(ARGS)

bench: setup
	$(PY) benchmarks/memory_ops.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
