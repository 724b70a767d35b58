# Two commands from a fresh clone; each creates (or reuses) the project's environment first.
#
#   make study     the default study: results/ and the report, results/report.html
#   make test      the test suite (what CI runs)
#
# Options: make study CORES=8 · make study CONFIG=workflow/configs/smoke.yaml ·
# make PYTHON=/path/to/python3.12 · make TORCH=cuda|cpu (default: cuda where nvidia-smi answers) ·
# make env (the study's environment alone) · make slurm-env (and the SLURM executor plugin).
PYTHON ?=
VENV ?= .venv
CORES ?= all
CONFIG ?=
export TORCH ?= auto

# the jobs' `python -m mfgstudy` must find the environment's python, activated or not
export PATH := $(abspath $(VENV))/bin:$(PATH)
# marks of a prepared environment: the study's dependencies (envs/lock/study.txt); and the test
# tools (dev.txt) or the SLURM plugin (slurm.txt) on top of them
ENV_READY := $(VENV)/.bootstrapped
DEV_READY := $(VENV)/.bootstrapped-dev
SLURM_READY := $(VENV)/.bootstrapped-slurm
BOOTSTRAP := pyproject.toml envs/bootstrap.sh envs/lock/no-deps.txt

.PHONY: study test env slurm-env
study: $(ENV_READY)
	snakemake --workflow-profile workflow/profiles/local --cores $(CORES) $(if $(CONFIG),--configfile $(CONFIG))

test: $(DEV_READY)
	python -m pytest -q tests

env: $(ENV_READY)

slurm-env: $(SLURM_READY)

# each redone when the dependencies, their lock or the bootstrap change
$(ENV_READY): $(BOOTSTRAP) envs/lock/study.txt
	envs/bootstrap.sh "$(PYTHON)" $(VENV) study
	@touch $@

$(DEV_READY): $(BOOTSTRAP) envs/lock/study.txt envs/lock/dev.txt
	envs/bootstrap.sh "$(PYTHON)" $(VENV) dev
	@touch $@

$(SLURM_READY): $(BOOTSTRAP) envs/lock/study.txt envs/lock/slurm.txt
	envs/bootstrap.sh "$(PYTHON)" $(VENV) slurm
	@touch $@
