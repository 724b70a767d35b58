"""Derivatives of a network field that losses differentiate again: divergence, the Laplacian of
every component, the time derivative, Jacobian-transpose products.

Traces are sums over probe directions v of v . J v (divergence) and v^T H_i v (Laplacian of
component i, H_i its Hessian in x). With the d unit vectors as probes the sums are exact (use in
low dimension); with Rademacher probes they are Hutchinson's unbiased estimates (use in high
dimension; a loss that squares an estimate is then biased upward by the estimate's variance).
J v and v^T H_i v come from nested forward-mode products (``torch.func.jvp``), which stay
differentiable in the network's parameters.
"""

from __future__ import annotations

import warnings

import torch
from torch.func import jvp

# torch loads its forward-mode decompositions through torch.jit.script on first use and warns
# that the latter is deprecated: an internal of torch 2.13, nothing a user can act on.
warnings.filterwarnings(
    "ignore", "`torch.jit.script` is deprecated", DeprecationWarning, r"torch\."
)


def probe_directions(x: torch.Tensor, count: int, gen: torch.Generator) -> list[torch.Tensor]:
    """``count`` = 0: the unit vectors of x's event space (exact traces); otherwise ``count``
    Rademacher vectors per sample (Hutchinson), drawn on the CPU generator ``gen``; on x's
    device."""
    if count == 0:
        d = x[0].numel()
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        return [eye[k].reshape(x.shape[1:]).expand_as(x) for k in range(d)]
    signs = torch.randint(0, 2, (count, *x.shape), generator=gen).to(x.device, x.dtype)
    return list(2.0 * signs - 1.0)


def divergence_and_laplacian(f, x: torch.Tensor, probes: list[torch.Tensor], laplacian: bool):
    """(div f, Laplacian of each component of f or None) at x for a field f(x) shaped like x,
    from the given probe directions (see :func:`probe_directions`); averaged over Rademacher
    probes, summed over unit vectors."""
    exact = len(probes) == x[0].numel() and all(v.abs().sum() == x.shape[0] for v in probes)
    div, lap = 0.0, 0.0 if laplacian else None
    for v in probes:
        if laplacian:
            (_, jv), (_, hvv) = jvp(lambda y, v=v: jvp(f, (y,), (v,)), (x,), (v,))
            lap = lap + hvv
        else:
            _, jv = jvp(f, (x,), (v,))
        div = div + (v * jv).flatten(1).sum(1)
    if not exact:
        div = div / len(probes)
        lap = None if lap is None else lap / len(probes)
    return div, lap


def time_derivative(f, t: torch.Tensor) -> torch.Tensor:
    """d f(t) / dt for a batch of per-sample times t (n,), by one forward-mode product."""
    return jvp(f, (t,), (torch.ones_like(t),))[1]


def jacobian_transpose_product(y: torch.Tensor, x: torch.Tensor, w: torch.Tensor):
    """(J^T w) with J = dy/dx per sample, y computed from ``x`` (requires_grad) by autograd; the
    result is differentiable in the parameters and in w."""
    return torch.autograd.grad(y, x, grad_outputs=w, create_graph=True)[0]


def divergence(y: torch.Tensor, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """div_x y for y = y(x) computed by autograd (reverse mode): exact for event size <= 4,
    a one-probe Hutchinson estimate above. ``create_graph`` keeps the graph for a loss."""
    flat = y.flatten(1)
    d = flat.shape[1]
    kw = {"create_graph": create_graph, "retain_graph": True}
    if d <= 4:
        rows = [torch.autograd.grad(flat[:, j].sum(), x, **kw)[0].flatten(1) for j in range(d)]
        return torch.stack([r[:, j] for j, r in enumerate(rows)], 1).sum(1)
    e = torch.randint(0, 2, flat.shape, dtype=flat.dtype) * 2 - 1  # Rademacher, global CPU RNG
    e = e.to(flat.device)
    hv = torch.autograd.grad((flat * e).sum(), x, **kw)[0]
    return (hv.flatten(1) * e).sum(1)
