"""A method may bring its own sampler through the sampler registry (mfgstudy.methods.base): a toy
method module, added to a copy of the package, registers a sampler kind; the planner reads it
without importing torch, a config may name it, a job builds it (importing the module), and the
module enters that job's code hash."""

import os
import shutil
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOY = '''
"""A toy method: DDPM's loss and score, with a sampler of its own (Euler-Maruyama renamed)."""

from mfgstudy.core.samplers import EulerMaruyama
from mfgstudy.methods.ddpm import DDPM
from mfgstudy.registry import register_sampler


@register_sampler("toy_em")
class ToyEM(EulerMaruyama):
    """The reverse SDE's Euler-Maruyama step, under this method's name."""


class Toy(DDPM):
    pass


METHOD = Toy
'''

CHECK = """
import sys

from mfgstudy.registry import SAMPLERS
from mfgstudy.code_closure import code_hash, closure, job_modules, spec_modules
from mfgstudy.pipeline.validation import _check_samplers

# the planner's view: read from the source, no torch
assert SAMPLERS.declared()["toy_em"] == "methods.toy", SAMPLERS.declared()
_check_samplers({"samplers": {"mine": {"kind": "toy_em"}, "em": {"kind": "euler_maruyama"}}})
assert spec_modules({"sampler": {"kind": "toy_em"}}) == ("methods.toy",)
assert spec_modules({"samplers": {"a": {"kind": "toy_em"}}}) == ("methods.toy",)
assert spec_modules({"sampler": {"kind": "euler_maruyama"}}) == ()
files = {f.name for f in closure(job_modules("sample", {"sampler": {"kind": "toy_em"}}))}
assert "toy.py" in files, files
assert code_hash("sample", {"sampler": {"kind": "toy_em"}}) != code_hash(
    "sample", {"sampler": {"kind": "euler_maruyama"}})
assert "torch" not in sys.modules

# a job's view: building the sampler imports the method's module
import numpy as np
import torch

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import build_sampler, generate
from mfgstudy.core.sde import VPSDE

assert "mfgstudy.methods.toy" not in sys.modules
sampler = build_sampler({"kind": "toy_em"})
assert type(sampler).__name__ == "ToyEM" and "mfgstudy.methods.toy" in sys.modules
sde = VPSDE()
law = GaussianMixture.gaussian([0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]])
args = ({"kind": "uniform"}, sde, lambda x, t: law.score(x, sde, t), 8, 16, (2,), 0)
mine = generate({"kind": "toy_em"}, *args)
em = generate({"kind": "euler_maruyama"}, *args)
assert torch.equal(mine, em)  # the same step: the same samples, bit for bit
print("ok")
"""


def test_a_method_module_brings_its_own_sampler(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        os.path.join(ROOT, "src", "mfgstudy"),
        src / "mfgstudy",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (src / "mfgstudy" / "methods" / "toy.py").write_text(textwrap.dedent(TOY).lstrip())
    res = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src)},
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]
