#!/usr/bin/env bash
# Regenerate the lock files, envs/lock/*.txt, from pyproject.toml; commit what it writes.
#
#   envs/lock.sh              keep every locked version that still satisfies pyproject.toml
#   envs/lock.sh --upgrade    the newest versions pyproject.toml allows (then run `make test`)
#
# Needs uv (`pip install uv`) and the package index. The locks are "universal": one file for
# Linux, macOS and Windows and for every Python that requires-python allows, with the hashes of
# every file the index has for each pinned version (pip checks them: --require-hashes).
#
#   study.txt     the dependencies of the study (`make study`)
#   slurm.txt     those and the [slurm] extra (`make slurm-env`)
#   dev.txt       those and the [dev] extra: the test tools (`make test`)
#   no-deps.txt   [tool.mfgstudy] no-deps: clean-fid, installed without its dependency list
#
# torch itself is not in them: its version is pinned once, [tool.mfgstudy] torch in pyproject.toml,
# and envs/bootstrap.sh installs it as the CUDA or the CPU wheel, which come from two indexes with
# different files (so no one hash list fits). The locks are resolved against that version, and pin
# torch's own dependencies (sympy, networkx, ...), but not the CUDA runtime packages of the CUDA
# wheel (nvidia-*, triton), which that wheel pins exactly itself and the CPU wheel does not need.
# The three locks agree on every package they share (each later one is resolved with the study's
# lock as constraints; tests/unit/test_dependencies.py checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
if ! command -v "$uv" >/dev/null 2>&1; then
    echo "lock: uv not found: pip install uv (or UV=/path/to/uv envs/lock.sh)" >&2
    exit 1
fi
upgrade=()
if [ "${1:-}" = "--upgrade" ]; then
    upgrade=(--upgrade)
fi
mkdir -p envs/lock
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# [tool.mfgstudy]: the torch pin and the packages installed without their dependencies
python3 - "$tmp" <<'EOF'
import sys, tomllib
tool = tomllib.load(open("pyproject.toml", "rb"))["tool"]["mfgstudy"]
open(f"{sys.argv[1]}/torch.txt", "w").write(f"torch=={tool['torch']}\n")
open(f"{sys.argv[1]}/no-deps.in", "w").write("".join(f"{r}\n" for r in tool["no-deps"]))
EOF

compile=("$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes
         --no-strip-extras --custom-compile-command "envs/lock.sh" "${upgrade[@]}")
# torch and its CUDA runtime: named by a first resolution (their names change across releases)
"${compile[@]}" pyproject.toml --all-extras -c "$tmp/torch.txt" -o "$tmp/all.txt"
no_emit=(--no-emit-package torch)
cuda=$(grep -oE '^(nvidia-|triton|cuda-)[a-z0-9._-]*' "$tmp/all.txt" | sort -u)
for name in $cuda; do
    no_emit+=(--no-emit-package "$name")
done

"${compile[@]}" "${no_emit[@]}" pyproject.toml -c "$tmp/torch.txt" -o envs/lock/study.txt
for extra in slurm dev; do
    "${compile[@]}" "${no_emit[@]}" pyproject.toml --extra "$extra" -c "$tmp/torch.txt" \
        -c envs/lock/study.txt -o "envs/lock/$extra.txt"
done
"${compile[@]}" --no-deps - -o envs/lock/no-deps.txt <"$tmp/no-deps.in"
echo "lock: envs/lock/{study,slurm,dev,no-deps}.txt written (torch $(cat "$tmp/torch.txt"))"
