"""The README's two commands are the Makefile's, CI runs exactly the test command, and the
environment the Makefile builds declares what the study and the reports import."""

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
    make = (ROOT / "Makefile").read_text()
    for target in ("study", "test"):
        assert re.search(rf"^{target}: \$\(ENV_READY\)$", make, re.M), target
    assert re.search(r"^\$\(ENV_READY\): pyproject.toml envs/bootstrap.sh$", make, re.M)
    dry = subprocess.run(["make", "-n", "test", "ENV_READY=pyproject.toml"], cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    assert dry.returncode == 0 and "python -m pytest -q tests" in dry.stdout, dry.stderr


def test_the_bootstrap_is_valid_shell_and_pins_what_the_readme_says():
    script = ROOT / "envs" / "bootstrap.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert "torch_version=2.13.0" in text and "cleanfid_version=0.1.35" in text
    assert '--no-deps "clean-fid==$cleanfid_version"' in text


def test_what_the_reports_import_is_declared():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ]", d)[0].lower() for d in deps}
    # snakemake --report needs pygments; results/report.html jinja2 and docutils; the tidy
    # export pyarrow; clean-fid's own needs besides torch (it is installed without them)
    assert {"pygments", "jinja2", "docutils", "pyarrow", "requests", "scipy", "pillow",
            "tqdm", "numpy"} <= names  # fmt: skip
