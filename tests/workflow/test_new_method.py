"""A new loss-based method is one module and one config entry (issue 25, item 4): in a copy of the
repository, ``src/mfgstudy/methods/toy.py`` (DDPM's loss under another name) and a ``toy`` entry
under ``methods:``, named by one smoke sweep, give the toy method's train and unit jobs in the
smoke DAG; its training job runs. Nothing else in the copy is edited (no list of methods in the
schema, the validation, the code hashes or the tests' layer table)."""

import os
import re
import shutil
import time

import pytest
import yaml

from tests.workflow.helpers import ROOT, SMOKE, snakemake

TOY = '''"""A toy loss-based method: DDPM's epsilon prediction under another name."""

from mfgstudy.methods.ddpm import DDPM


class Toy(DDPM):
    pass


METHOD = Toy
'''

# one config entry (a points network and budget, as the smoke config's ddpm) and one sweep
# that names it
OVERLAY = {
    "methods": {
        "toy": {
            "kind": "toy",
            "net": {"points": {"kind": "mlp", "width": 32, "depth": 2, "emb_dim": 16}},
            "train": {
                "points": {"steps": 20, "batch_size": 64, "lr": 2.0e-3, "ema": 0.9,
                           "log_every": 10},
            },
        }
    },
    "sweeps": {"w2_learned": {"methods": ["ddpm", "toy"]}},
}  # fmt: skip


def _copy_with_toy(tmp_path):
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".git", "results", ".snakemake", "__pycache__", ".venv")
    shutil.copytree(ROOT, copy, ignore=ignore)
    (copy / "src" / "mfgstudy" / "methods" / "toy.py").write_text(TOY)
    overlay = tmp_path / "toy.yaml"
    overlay.write_text(yaml.safe_dump(OVERLAY))
    smoke = os.path.join(copy, os.path.relpath(SMOKE, ROOT))
    return str(copy), [smoke, str(overlay)]


def _jobs(output: str, rule: str) -> list[str]:
    """The wildcards lines of the planned jobs of ``rule`` in a dry-run listing."""
    pattern = rf"^(?:local)?rule {rule}:\n((?:    .*\n)+)"
    blocks = re.findall(pattern, output, flags=re.M)
    return [m for b in blocks for m in re.findall(r"^    wildcards: (.*)$", b, flags=re.M)]


@pytest.mark.slow
def test_a_new_method_is_one_module_and_one_config_entry(tmp_path):
    root, configfile = _copy_with_toy(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    t0 = time.time()
    res = snakemake(work, "-n", configfile=configfile, root=root)
    print(f"dry run: {time.time() - t0:.0f} s")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    train = [w for w in _jobs(out, "train") if "method=toy" in w]
    unit = [w for w in _jobs(out, "unit") if "method=toy" in w]
    assert train and unit, (train, unit)
    assert all("sweep=w2_learned" in w for w in unit), unit

    # the toy method's training job itself (with its data), a few seconds
    target = "results/models/gmm8/toy/seed0/model.pt"
    t0 = time.time()
    res = snakemake(work, "--cores", "1", target, configfile=configfile, root=root)
    print(f"prepare_data and train of the toy method: {time.time() - t0:.0f} s")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert (work / target).is_file()
