"""Training and sampling throughput per family, against this machine's matmul peaks.

    python tests/benchmarks/bench_throughput.py --quick               # < 2 min, this tree only
    python tests/benchmarks/bench_throughput.py --quick --base 111ab4d  # side by side with a rev
    python tests/benchmarks/bench_throughput.py --base 111ab4d          # 3 rounds, more work

Families (the study's trained ones, at the sizes the issue names):

- ``ddpm_2d``: DDPM on a 2-D MLP (3 x 128, batch 256), the shared training loop;
- ``mfg_outer``: one outer iteration of MFG-Diffusion's Algorithm 1 on points (the default
  config's sizes: 20 time points x (1 HJB + 4 FP batches) of 256, measure refresh, violation);
- ``hjb_plain`` / ``hjb_residual``: HJB-SGM at the MFG laboratory's paper sizing
  (``workflow/configs/paper.yaml``: 3 x 128 GELU, batch 256, ``output: noise``, exact 2-D
  divergence; ``hjb_residual`` adds the HJB residual and the terminal term);
- ``unet_train``: the digits UNet (class-conditional, batch 64) trained by DDPM's loss;
- ``digits_sampling``: one digits unit's sampling (exponential integrator, 100 steps).

Each family runs the package's own code (``mfgstudy.training.fit``, ``core.samplers.generate``)
for a fixed amount of work after a warm-up, in one worker process per revision on ``--threads``
threads (default 1: the study's jobs run one thread each). A revision given by ``--base`` is
checked out in a scratch worktree, and its worker runs the same measuring code (this file) on its
own package; the workers take turns, never running at once (they would share the cores). A
family's samples per second count the whole run (network set-up, EMA copy, measure draws, the
loop's logging), divided by the threads. FLOPs per step come from torch's flop
counter (matmuls and convolutions), and the peaks from the best of a 1024^2 matmul and a
256-channel convolution timed in the same process. Each family's time is its best run over 3
rounds (2 with ``--quick``, at a third of the work) with the revisions interleaved (base, now,
now, base, ...): a slow spell of the machine or another process can only slow a run down, and
hits both revisions alike.

One line per family:
``throughput <family> base=<x>/s now=<y>/s speedup=<z> gflops=<g> of_fp32_peak=<p>%
of_bf16_peak=<q>%`` (samples per second per core; gflops and the peaks of this tree's run).

Every change this benchmark measured and the code adopted keeps the arithmetic (the same
precision, batch and learning rate; the jet and the foreach kernels give the same numbers to
round-off or bit for bit), so no quality check rides along. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAMILIES = ("ddpm_2d", "mfg_outer", "hjb_plain", "hjb_residual", "unet_train", "digits_sampling")
SDE = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1.0e-3}
HJB_SDE = {"kind": "vp", "beta_min": 1.0, "beta_max": 1.0, "T": 3.0, "t_min": 1.0e-3}
MLP = {"kind": "mlp", "width": 128, "depth": 3, "emb_dim": 64}
UNET = {"kind": "unet", "width": 32, "emb_dim": 64, "n_classes": 10}
HJB_NET = {"kind": "fc", "width": 128, "depth": 3, "activation": "gelu"}


# --- the worker: runs in the revision's own package ---------------------------------------------
def _points(n: int, seed: int):
    """n points of the 8-Gaussian mixture on the circle of radius 2 (sd 0.1)."""
    import math

    import torch

    g = torch.Generator().manual_seed(seed)
    k = torch.randint(8, (n,), generator=g).double()
    c = torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], 1) * 2.0
    return (c + 0.1 * torch.randn((n, 2), generator=g, dtype=torch.float64)).float()


def _images(n: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, 1, 8, 8), generator=g) * 2 - 1, torch.randint(10, (n,), generator=g)


def _method(spec: dict, sde: dict):
    from mfgstudy.core.sde import VPSDE
    from mfgstudy.methods.registry import build_method

    return build_method(spec, VPSDE.from_spec(sde))


def _train_spec(steps: int, bs: int, images: bool = False) -> dict:
    spec = {"steps": steps, "batch_size": bs, "lr": 1e-3, "ema": 0.999, "warmup": 10,
            "log_every": 100}  # fmt: skip
    return {**spec, "label_dropout": 0.1} if images else spec


def family_setup(name: str, quick: bool):
    """(work(k) -> None running k units of work, samples per unit, units to time)."""
    import torch

    from mfgstudy.training.fit import fit

    if name in ("ddpm_2d", "hjb_plain", "hjb_residual", "unet_train"):
        if name == "ddpm_2d":
            spec, sde, bs, x, y = {"kind": "ddpm", "net": {"points": MLP}}, SDE, 256, None, None
        elif name == "unet_train":
            spec, sde, bs = {"kind": "ddpm", "net": {"images": UNET}}, SDE, 64
            x, y = _images(1797, 0)
        else:
            alphas = (1.0, 1.0, 1.0) if name == "hjb_residual" else (1.0, 0.0, 0.0)
            spec = {"kind": "hjb_sgm", "net": {"points": HJB_NET}, "probes": 0, "p": 2,
                    "output": "noise",
                    **dict(zip(("alpha0", "alpha1", "alpha2"), alphas, strict=True))}  # fmt: skip
            sde, bs, x, y = HJB_SDE, 256, None, None
        kind = "images" if name == "unet_train" else "points"
        if x is None:
            x = _points(4000, 0)
        method = _method(spec, sde)

        def work(k: int) -> None:
            net = method.build_net(kind, tuple(x.shape[1:]))
            fit(method, net, x, _train_spec(k, bs, kind == "images"), 0, kind, labels=y)

        steps = {"ddpm_2d": 2400, "hjb_plain": 1200, "hjb_residual": 400, "unet_train": 360}[name]
        return work, bs, steps // (3 if quick else 1)
    if name == "mfg_outer":
        spec = {
            "kind": "mfg",
            "net": {"points": MLP},
            "gamma": 1e-4,
            "lambda": 1.0,
            "value_net": {"points": {"kind": "mlp", "width": 64, "depth": 2, "emb_dim": 32}},
        }
        method, x = _method(spec, SDE), _points(4000, 0)
        tp, hjb, fpb, bs = 21, 1, 4, 256

        def work(k: int) -> None:
            train = {
                "outer_iters": k,
                "time_points": tp,
                "hjb_batches": hjb,
                "fp_batches": fpb,
                "batch_size": bs,
                "measure_size": 2000,
                "lr": 2e-3,
                "ema": 0.995,
            }
            fit(method, method.build_net("points", (2,)), x, train, 0, "points")

        return work, (tp - 1) * (hjb + fpb) * bs, 4 if quick else 12
    if name == "digits_sampling":
        from mfgstudy.core.samplers import generate
        from mfgstudy.core.sde import VPSDE
        from mfgstudy.nets import BalancedLabels

        method = _method({"kind": "ddpm", "net": {"images": UNET}}, SDE)
        net = BalancedLabels(method.build_net("images", (1, 8, 8)).eval())
        score, n = method.score_fn(net), 360

        def run(steps: int) -> None:
            generate({"kind": "exponential_integrator"}, {"kind": "uniform"},
                     VPSDE.from_spec(SDE), score, steps, n, (1, 8, 8), 0,
                     batch_size=360, dtype=torch.float32)  # fmt: skip

        # a unit of work: one sampler step over the 360 samples
        return run, n, 80 if quick else 240
    raise ValueError(f"unknown family {name!r}; choose from {FAMILIES}")


def peak(dtype_name: str, seconds: float = 1.0) -> float:
    """This machine's GFLOP/s in ``dtype_name`` on the current threads: the best of a 1024^2
    matmul (MKL) and a 256-channel 3x3 convolution (oneDNN), each timed for ``seconds``. The
    convolution runs about twice as fast as the matmul here in fp32, so a matmul alone would
    understate the peak and overstate every family's share of it."""
    import torch

    dt = getattr(torch, dtype_name)
    a, b = torch.randn(1024, 1024).to(dt), torch.randn(1024, 1024).to(dt)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(dt)
    x = torch.randn(32, 256, 16, 16).to(dt)
    kernels = ((lambda: a @ b, 2 * 1024**3), (lambda: conv(x), 2 * 32 * 256 * 256 * 9 * 16 * 16))
    best = 0.0
    with torch.no_grad():
        for fn, flops in kernels:
            for _ in range(3):
                fn()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                fn()
                n += 1
            best = max(best, flops * n / (time.perf_counter() - t0) / 1e9)
    return best


def flops_of(fn) -> float:
    """FLOPs of ``fn()`` by torch's flop formulas (``torch.utils.flop_counter``: matmuls,
    convolutions, attention) in a plain dispatch mode: FlopCounterMode's module tracker refuses
    the ``autograd.grad`` calls the score losses make."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **(kwargs or {}), out_val=out)
            return out

    with Count() as counter:
        fn()
    return float(counter.total)


def _quiet_progress() -> None:
    """The training loops' progress bars off (they pass ``disable`` themselves)."""
    from importlib import import_module

    class Quiet:
        def __init__(self, iterable, *args, **kwargs):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def set_postfix(self, *args, **kwargs):
            pass

    for name in ("loop", "algorithm1"):
        module = import_module(f"mfgstudy.training.{name}")
        if hasattr(module, "tqdm"):
            module.tqdm = Quiet


def timed(name: str, quick: bool, threads: int) -> dict:
    """One timed run of a family, after a warm-up under the flop counter."""
    work, per_unit, units = family_setup(name, quick)
    # the warm-up (first-call allocations, lazy imports) runs under the flop counter: flops per
    # unit are a whole run's over its units, fixed costs included as in the timed run
    warm = max(1, units // 10)
    flops = flops_of(lambda: work(warm)) / warm
    t0 = time.perf_counter()
    work(units)
    wall = time.perf_counter() - t0
    return {"samples_per_s": units * per_unit / wall / threads, "wall_s": wall, "units": units,
            "gflops": flops * units / wall / 1e9}  # fmt: skip


def serve(quick: bool, threads: int) -> None:
    """The worker: reads a family name (or ``peaks``) per line on stdin, answers a JSON line."""
    import logging

    import torch

    torch.set_num_threads(threads)
    logging.disable(logging.INFO)
    _quiet_progress()
    for line in sys.stdin:
        name = line.strip()
        if name == "peaks":
            got = {"float32": peak("float32"), "bfloat16": peak("bfloat16")}
        else:
            got = timed(name, quick, threads)
        print(json.dumps(got), flush=True)


# --- the driver -----------------------------------------------------------------------------------
class Worker:
    """A worker process on one tree's package (PYTHONPATH), kept for the whole run."""

    def __init__(self, src: Path, quick: bool, threads: int):
        env = {**os.environ, "PYTHONPATH": str(src)}
        cmd = [sys.executable, __file__, "--serve", "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd + (["--quick"] if quick else []), env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip

    def ask(self, what: str) -> dict:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the worker died on {what!r} (its traceback is above)")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(workers: dict[str, Worker], families, quick: bool) -> dict:
    """The best run of each family in each tree over a few rounds, the trees interleaved
    (base, now, now, base, ...) so that a slow spell of the machine hits both alike."""
    best: dict[str, dict] = {rev: {} for rev in workers}
    for name in families:
        for r in range(2 if quick else 3):
            for rev in list(workers) if r % 2 == 0 else list(workers)[::-1]:
                got = workers[rev].ask(name)
                if got["samples_per_s"] > best[rev].get(name, {}).get("samples_per_s", 0):
                    best[rev][name] = got
        line = ", ".join(f"{rev} {best[rev][name]['samples_per_s']:.0f}/s" for rev in workers)
        print(f"  {name}: {line}", file=sys.stderr, flush=True)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", help="a revision to run side by side (a scratch worktree)")
    p.add_argument("--quick", action="store_true", help="less work per family (< 2 min)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    families = [f for f in a.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        p.error(f"unknown families {unknown}; choose from {list(FAMILIES)}")
    if a.serve:
        serve(a.quick, a.threads)
        return
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="mfgstudy-throughput-") as tmp:
        trees = {"now": ROOT / "src"}
        if a.base:
            tree = Path(tmp) / "base"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                            a.base], check=True, capture_output=True)  # fmt: skip
            trees = {"base": tree / "src", **trees}
        workers = {rev: Worker(src, a.quick, a.threads) for rev, src in trees.items()}
        try:
            peaks = workers["now"].ask("peaks")
            best = measure(workers, families, a.quick)
        finally:
            for w in workers.values():
                w.close()
            if a.base:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)  # fmt: skip
    now, base = best["now"], best.get("base")
    peak32, peak16 = peaks["float32"], peaks["bfloat16"]
    print(f"peaks ({a.threads} thread(s)): fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    for name in families:
        y, g = now[name]["samples_per_s"], now[name]["gflops"]
        x = base[name]["samples_per_s"] if base else float("nan")
        print(f"throughput {name} base={x:.0f}/s now={y:.0f}/s speedup={y / x:.2f} "
              f"gflops={g:.1f} of_fp32_peak={100 * g / peak32:.0f}% "
              f"of_bf16_peak={100 * g / peak16:.1f}%")  # fmt: skip
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
