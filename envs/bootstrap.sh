#!/usr/bin/env bash
# Create or update the project's virtual environment (called by `make`; safe to rerun).
#
#   envs/bootstrap.sh [PYTHON] [VENV]      defaults: python3.11 .venv
#
# torch: the CUDA wheel where a GPU driver answers (nvidia-smi), else the CPU wheel from
# download.pytorch.org; where that index cannot be reached (an offline mirror, a site cache) the
# configured indexes decide, which on a CPU-only mirror is the CPU wheel. clean-fid is installed
# without its dependency list (it names torchvision, which pulls a second, CUDA torch); what it
# needs besides torch is a dependency of this project, and mfgstudy.cleanfid_compat supplies the
# one torchvision function it calls when torchvision is absent.
set -euo pipefail
python=${1:-python3.11}
venv=${2:-.venv}
torch_version=2.13.0
cleanfid_version=0.1.35

if ! command -v "$python" >/dev/null 2>&1; then
    echo "bootstrap: '$python' not found: install Python 3.11, or name it: make PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "bootstrap: the project needs Python 3.11; '$python' is $("$python" -V 2>&1): make PYTHON=/path/to/python3.11" >&2
    exit 1
fi
# one bootstrap at a time per environment: two `make` in a fresh clone would both install into it
ready="$venv/.bootstrapped"  # the Makefile's mark of a prepared environment
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    if ! flock -n 9; then
        echo "bootstrap: another bootstrap is preparing $venv ($venv.lock): waiting for it"
        flock 9
        if [ -f "$ready" ] && [ "$ready" -nt pyproject.toml ] && [ "$ready" -nt "$0" ]; then
            echo "bootstrap: ready: $venv was prepared by the other bootstrap meanwhile"
            exit 0
        fi
    fi
else
    echo "bootstrap: no flock here: do not run two bootstraps of $venv at once" >&2
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "bootstrap: creating $venv with $("$python" -V 2>&1)"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "bootstrap: a GPU answers (nvidia-smi): torch $torch_version, CUDA wheel"
    "${pip[@]}" install "torch==$torch_version"
elif "$venv/bin/python" -c 'import urllib.request as u; u.urlopen("https://download.pytorch.org/whl/cpu/", timeout=5)' >/dev/null 2>&1; then
    echo "bootstrap: no GPU: torch $torch_version, CPU wheel (download.pytorch.org/whl/cpu)"
    "${pip[@]}" install "torch==$torch_version" --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple
else
    echo "bootstrap: no GPU, download.pytorch.org unreachable: torch $torch_version from the configured indexes"
    "${pip[@]}" install "torch==$torch_version"
fi
"${pip[@]}" install --no-deps "clean-fid==$cleanfid_version"
"${pip[@]}" install -e ".[dev]"
"$venv/bin/python" -c 'import importlib.metadata as m, torch, mfgstudy
print("bootstrap: ready: torch", torch.__version__, "(CUDA available:",
      torch.cuda.is_available(), "), clean-fid", m.version("clean-fid"))'
touch "$ready"  # before the lock is released: a bootstrap waiting on it finds it prepared
