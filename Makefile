# Two commands from a fresh clone; each creates (or reuses) the project's environment first.
#
#   make study     the default study: results/ and the report, results/report.html
#   make test      the test suite (what CI runs)
#
# Options: make study CORES=8 · make study CONFIG=workflow/configs/smoke.yaml ·
# make PYTHON=/path/to/python3.11 · make env (the environment alone).
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= all
CONFIG ?=

# the jobs' `python -m mfgstudy` must find the environment's python, activated or not
export PATH := $(abspath $(VENV))/bin:$(PATH)
ENV_READY := $(VENV)/.bootstrapped

.PHONY: study test env
study: $(ENV_READY)
	snakemake --workflow-profile workflow/profiles/local --cores $(CORES) $(if $(CONFIG),--configfile $(CONFIG))

test: $(ENV_READY)
	python -m pytest -q tests

env: $(ENV_READY)

# redone when the dependencies or the bootstrap change
$(ENV_READY): pyproject.toml envs/bootstrap.sh
	envs/bootstrap.sh $(PYTHON) $(VENV)
	@touch $@
