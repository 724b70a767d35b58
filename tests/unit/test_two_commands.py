"""The README's two commands are the Makefile's, CI runs exactly the test command, and the
environment the Makefile builds declares what the study and the reports import."""

import os
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("## The two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_readme_gives_two_commands_and_ci_runs_the_test_one():
    assert _readme_commands() == ["make study", "make test"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci[-1] == "make test"  # after, at most, installing the browser test's Chromium


def test_the_makefile_targets_build_the_environment_first():
    """`make study` builds the study's environment (its lock), `make test` adds the test tools
    (the dev lock): each mark is redone when pyproject, the bootstrap or its lock changes."""
    make = (ROOT / "Makefile").read_text()
    marks = {"study": "ENV_READY", "test": "DEV_READY", "slurm-env": "SLURM_READY"}
    for target, mark in marks.items():
        assert re.search(rf"^{target}: \$\({mark}\)$", make, re.M), target
    assert re.search(r"^BOOTSTRAP := pyproject.toml envs/bootstrap.sh envs/lock/no-deps.txt$",
                     make, re.M)  # fmt: skip
    recipes = {"ENV_READY": ("", "study"), "DEV_READY": (" envs/lock/dev.txt", "dev"),
               "SLURM_READY": (" envs/lock/slurm.txt", "slurm")}  # fmt: skip
    for mark, (lock, mode) in recipes.items():
        rule = rf"^\$\({mark}\): \$\(BOOTSTRAP\) envs/lock/study.txt{lock}\n\t(.*)$"
        recipe = re.search(rule, make, re.M).group(1)
        assert recipe == f'envs/bootstrap.sh "$(PYTHON)" $(VENV) {mode}', recipe
    # as a fresh make, also when this suite runs under `make test` (a sub-make would print its
    # "Entering directory" lines and inherit the parent's flags)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(["make", "-n", "test", "DEV_READY=pyproject.toml"], cwd=ROOT, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert dry.returncode == 0 and "python -m pytest -q tests" in dry.stdout, dry.stderr
    # a fresh clone: `make test` bootstraps first, with the test tools
    fresh = subprocess.run(["make", "-n", "test", "VENV=/nonexistent/venv"], cwd=ROOT, env=env,
                           capture_output=True, text=True)  # fmt: skip
    lines = fresh.stdout.splitlines()
    assert lines[0] == 'envs/bootstrap.sh "" /nonexistent/venv dev', fresh.stdout
    assert "python -m pytest -q tests" in lines[-1]


def test_the_bootstrap_is_valid_shell_and_installs_what_the_readme_says():
    for script in ("lock.sh", "bootstrap.sh"):
        assert subprocess.run(["bash", "-n", str(ROOT / "envs" / script)]).returncode == 0
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mfgstudy"]
    readme = (ROOT / "README.md").read_text()
    assert f"torch {tool['torch']}" in readme and "clean-fid 0.1.35" in readme
    assert tool["no-deps"] == ["clean-fid==0.1.35"]


def test_what_the_reports_import_is_declared():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ]", d)[0].lower() for d in deps}
    # snakemake --report needs pygments; results/report.html jinja2 and docutils; the tidy
    # export pyarrow; clean-fid's own needs besides torch (it is installed without them)
    assert {"pygments", "jinja2", "docutils", "pyarrow", "requests", "scipy", "pillow",
            "tqdm", "numpy"} <= names  # fmt: skip
