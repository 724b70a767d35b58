"""One source of truth for the dependencies (issue 26): pyproject.toml states them, the lock
(envs/lock/*.txt, written by envs/lock.sh) pins each with hashes, the bootstrap installs from the
lock, torch is pinned once, the conda environments carry pyproject's list, and the Pythons the
bootstrap accepts are requires-python's."""

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT, TOOL = PYPROJECT["project"], PYPROJECT["tool"]["mfgstudy"]
LOCKS = {name: ROOT / "envs" / "lock" / f"{name}.txt" for name in ("study", "slurm", "dev")}
# conda-forge's name of a PyPI package, where it differs (torch: per environment, below)
CONDA_NAMES = {"snakemake": "snakemake-minimal"}
CONDA_TORCH = {"cpu": "pytorch", "cuda": "pytorch-gpu"}
PIP_IN_CONDA = {"prdc"}  # not on conda-forge: the env file's pip section


def requirements(extra: str | None = None) -> list[Requirement]:
    reqs = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def locked(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, hashes) of a lock file (uv's requirements format)."""
    out, text = {}, path.read_text()
    entries = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)((?:.*\\\n)*.*)",
                         text, flags=re.M)  # fmt: skip
    for name, version, rest in entries:
        out[canonicalize_name(name)] = (Version(version), re.findall(r"--hash=sha256:(\w+)", rest))
    return out


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_pins_every_dependency_of_pyproject_with_hashes(lock):
    pins = locked(LOCKS[lock])
    wanted = requirements() + [r for e in ("slurm", "dev") if lock in (e, "dev")
                               for r in requirements(e) if r.name != "mfgstudy"]  # fmt: skip
    for req in wanted:
        name = canonicalize_name(req.name)
        if name == "torch":  # pinned once in pyproject: the bootstrap installs it (next test)
            assert name not in pins
            continue
        assert name in pins, f"{req} is not in {LOCKS[lock].name}: run envs/lock.sh"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), (req, version)
    for name, (_, hashes) in pins.items():
        assert hashes and all(len(h) == 64 for h in hashes), name  # every pin has its hashes
        assert not name.startswith(("nvidia-", "triton")), name  # the CUDA wheel's own pins


def test_the_locks_agree_and_each_extends_the_study():
    study = locked(LOCKS["study"])
    for lock in ("slurm", "dev"):
        other = locked(LOCKS[lock])
        assert set(study) <= set(other), lock
        assert {n: other[n][0] for n in study} == {n: v for n, (v, _) in study.items()}, lock
    assert "snakemake-executor-plugin-slurm" in locked(LOCKS["slurm"])
    assert "snakemake-executor-plugin-slurm" not in study  # `make study` installs no extras
    assert "pytest" not in study and "pytest" not in locked(LOCKS["slurm"])


def test_torch_is_pinned_once_within_pyproject_s_range():
    pin = Version(TOOL["torch"])
    (torch,) = [r for r in requirements() if r.name == "torch"]
    assert torch.specifier.contains(pin)
    files = ["pyproject.toml", "envs/bootstrap.sh", "envs/cpu.yaml", "envs/cuda.yaml",
             "envs/lock.sh", "Makefile", *(f"envs/lock/{n}.txt" for n in LOCKS)]  # fmt: skip
    pin_re = r"torch[\s\"']*={1,2}\s*[\"']?\d"  # torch==2.13.0, torch = "2.13.0"; not >=
    pins = {f: len(re.findall(pin_re, (ROOT / f).read_text())) for f in files}
    assert pins == {f: int(f == "pyproject.toml") for f in files}  # [tool.mfgstudy] alone
    assert TOOL["torch"] in (ROOT / "README.md").read_text()  # the README says which


def test_the_no_deps_lock_is_pyproject_s_list():
    pins = locked(ROOT / "envs" / "lock" / "no-deps.txt")
    wanted = {canonicalize_name(Requirement(r).name): r for r in TOOL["no-deps"]}
    assert set(pins) == set(wanted)
    for name, req in wanted.items():
        assert Requirement(req).specifier.contains(pins[name][0]) and pins[name][1]


@pytest.mark.parametrize("env", ["cpu", "cuda"])
def test_the_conda_environments_carry_pyproject_s_dependencies(env):
    spec = yaml.safe_load((ROOT / "envs" / f"{env}.yaml").read_text())
    conda, pip = {}, {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            pip.update({Requirement(d).name: d for d in dep["pip"] if not d.startswith("-e")})
        else:
            name = re.split(r"[<>=! ]", dep, maxsplit=1)[0]
            conda[name] = dep
    python = re.fullmatch(r"python=(\d+\.\d+)", conda["python"]).group(1)
    assert SpecifierSet(PROJECT["requires-python"]).contains(Version(python))
    for req in requirements():
        if req.name == "torch":
            dep = conda[CONDA_TORCH[env]]
            assert str(req.specifier) in dep, (dep, req)
        elif req.name in PIP_IN_CONDA:
            assert Requirement(pip[req.name]).specifier == req.specifier, req
        else:
            name = CONDA_NAMES.get(req.name, req.name)
            assert name in conda, f"{req} is missing from envs/{env}.yaml"
            assert conda[name] == f"{name}{req.specifier}", (conda[name], str(req))
    for no_deps in TOOL["no-deps"]:  # clean-fid: the same version as the bootstrap's
        assert no_deps in pip.values(), no_deps
    extra = set(conda) - {CONDA_NAMES.get(r.name, r.name) for r in requirements()}
    assert extra <= {"python", "pip", CONDA_TORCH[env], "torchvision", "cuda-version"}, extra


def test_requires_python_is_what_the_bootstrap_accepts():
    text = (ROOT / "envs" / "bootstrap.sh").read_text()
    supported = re.search(r'^supported="([\d. ]+)"', text, flags=re.M).group(1).split()
    spec = SpecifierSet(PROJECT["requires-python"])
    minors = [f"3.{m}" for m in range(8, 16)]
    assert [v for v in minors if spec.contains(Version(v))] == supported
    assert f"--python-version {supported[0]}" in (ROOT / "envs" / "lock.sh").read_text()


# --- the bootstrap, run against a fake Python (no package is installed) -------------------------
FAKE_PYTHON = """#!/usr/bin/env bash
# A Python that says it is $FAKE_VERSION, "creates" a venv of itself and logs every pip call.
if [ "$1" = -c ]; then
    case "$2" in
        *version_info*) echo "$FAKE_VERSION" ;;
        *tomllib*) exec "$REAL_PYTHON" "$@" ;;
        *urlopen*) exit "${FAKE_OFFLINE:-0}" ;;
        *torch.version.cuda*) exit 1 ;;
        *) echo "fake: ran -c" ;;
    esac
    exit 0
fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
    mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
fi
if [ "$1" = -m ] && [ "$2" = pip ]; then
    shift 2
    echo "$*" >>"$PIP_LOG"
    exit 0
fi
exit 3
"""


def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "python-fake"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE_PYTHON)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def bootstrap(tmp_path, version, mode="study", **env):
    import sys

    python = fake_python(tmp_path)
    log = tmp_path / "pip.log"
    environ = {**os.environ, "FAKE_VERSION": version, "REAL_PYTHON": sys.executable,
               "PIP_LOG": str(log), "PATH": f"{python.parent}:/usr/bin:/bin", **env}  # fmt: skip
    cmd = ["bash", "envs/bootstrap.sh", str(python), str(tmp_path / "venv"), mode]
    res = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return res, calls


@pytest.mark.parametrize("version", ["3.11", "3.12"])
def test_the_bootstrap_installs_the_lock_then_torch_then_clean_fid(tmp_path, version):
    res, calls = bootstrap(tmp_path, version)
    assert res.returncode == 0, res.stderr
    installs = [c for c in calls if " install " in f" {c} "]
    lock, torch, no_deps, project = installs
    assert "--require-hashes" in lock and "--no-deps" in lock
    assert lock.endswith(f"-r {ROOT}/envs/lock/study.txt")
    assert f"torch=={TOOL['torch']}" in torch
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch
    assert "--require-hashes" in no_deps and no_deps.endswith("envs/lock/no-deps.txt")
    assert "--no-deps" in project and project.endswith("-e .")  # the project, from the lock's set
    assert "ERROR" not in res.stdout + res.stderr
    assert (tmp_path / "venv" / ".bootstrapped").exists()


@pytest.mark.parametrize("mode", ["dev", "slurm"])
def test_make_test_and_slurm_env_install_their_lock(tmp_path, mode):
    res, calls = bootstrap(tmp_path, "3.11", mode, TORCH="cuda")
    assert res.returncode == 0, res.stderr
    assert calls[1].endswith(f"-r {ROOT}/envs/lock/{mode}.txt")
    torch = next(c for c in calls if "torch==" in c)
    assert "download.pytorch.org" not in torch  # TORCH=cuda: PyPI's CUDA wheel, whatever the node
    assert "CUDA wheel" in res.stdout
    assert (tmp_path / "venv" / f".bootstrapped-{mode}").exists()
    assert (tmp_path / "venv" / ".bootstrapped").exists()  # the study's environment is in it


@pytest.mark.parametrize("version", ["3.10", "3.13"])
def test_the_bootstrap_refuses_another_python_and_says_why(tmp_path, version):
    res, calls = bootstrap(tmp_path, version)
    assert res.returncode == 1 and calls == []
    assert f"is Python {version}" in res.stderr and "3.11 and 3.12" in res.stderr
    assert "requires-python" in res.stderr and "make PYTHON=" in res.stderr
