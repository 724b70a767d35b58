"""Worker of tests/unit/test_ddp.py (not a test module): a few steps of the shared training loop
(``mfgstudy.training.loop.train``) on losses whose noise is a function of the data row, so that
the same global batch gives the same loss terms in any number of processes. Run it under
``torchrun --standalone --nproc_per_node=2 ddp_worker.py OUT`` (gloo) or call ``main(OUT)`` in one
process; rank r saves its network's gradients and parameters after the last step, and the logged
loss, to ``OUT/rank{r}.pt``. In float64, so that "equal" means equal to machine precision.

Two losses, for the two ways the loop averages gradients over ranks: DDPM's (ordinary autograd:
DistributedDataParallel) and HJB-SGM's residual (torch.func.jvp, which a DDP forward does not
support: an explicit all-reduce).
"""

import sys
from pathlib import Path

import torch

from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.ddpm import DDPM
from mfgstudy.methods.hjb_sgm import HJBSGM
from mfgstudy.training.distributed import Runtime
from mfgstudy.training.loop import train

STEPS = 3
SPEC = {"steps": STEPS, "batch_size": 64, "lr": 1e-2, "ema": 0.9, "warmup": 0, "log_every": 1,
        "grad_clip": 1e9}  # fmt: skip  # clipping is then a multiplication by exactly 1


def _row_noise(sde, x0):
    """(t, z) as functions of each data row: no random draws."""
    t = sde.t_min + (sde.T - sde.t_min) * torch.sigmoid(3.0 * x0.sum(1))
    return t, torch.sin(5.0 * x0 + 1.0)


def _marginal(sde, x0, t, z):
    b = sde.integrated_beta(t)[:, None]
    return torch.exp(-0.5 * b) * x0 + torch.sqrt(-torch.expm1(-b)) * z


class RowNoiseDDPM(DDPM):
    def loss(self, net, x0, gen):
        t, z = _row_noise(self.sde, x0)
        eps_hat = net(_marginal(self.sde, x0, t, z), t / self.sde.T)
        loss = (eps_hat - z).square().sum(1).mean()
        return loss, {"eps_mse": float(loss.detach())}


class RowNoiseHJB(HJBSGM):
    def loss(self, net, x0, gen):
        t, z = _row_noise(self.sde, x0)
        r, s, div = self.hjb_residual(net, _marginal(self.sde, x0, t, z), t, gen)  # exact traces
        hjb = r.square().sum(1).mean()
        ism = (0.5 * s.square().sum(1) + div).mean()
        return hjb + ism, {"hjb": float(hjb.detach()), "ism": float(ism.detach())}


# the FC network computes in its input's dtype (the MLP's time embedding is float32)
FC = {"points": {"kind": "fc", "width": 16, "depth": 2, "activation": "gelu"}}
METHODS = {
    "ddpm": RowNoiseDDPM({"kind": "ddpm", "net": FC}, VPSDE()),
    "hjb_sgm": RowNoiseHJB({"kind": "hjb_sgm", "net": FC, "probes": 0}, VPSDE(1.0, 1.0, 3.0)),
}


def main(out: str) -> None:
    torch.set_num_threads(1)
    run = Runtime.start(torch.device("cpu"))
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    result = {}
    try:
        for name, method in METHODS.items():
            torch.manual_seed(0)
            net = method.build_net("points", (2,)).double()
            _, log = train(method, net, x, SPEC, seed=0, run=run)
            result[name] = {
                "grad": [p.grad.clone() for p in net.parameters()],
                "params": [p.detach().clone() for p in net.parameters()],
                "loss": torch.from_numpy(log["loss"].values),
            }
    finally:
        run.close()
    Path(out).mkdir(parents=True, exist_ok=True)
    torch.save(result, Path(out) / f"rank{run.rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1])
