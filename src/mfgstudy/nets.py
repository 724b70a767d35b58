"""Networks: an MLP with time embedding and a plain (x, t) network for 2-D points, a small UNet
for 8x8 images, and the digits classifier whose penultimate layer is the feature space of
FD-digits.

``build_net(spec, event_shape)`` picks by ``spec["kind"]``; adding an architecture is one class
and one entry in ``NETS``.

Class conditioning (images): ``TinyUNet(n_classes=K)`` adds a learned class embedding (K + 1 rows,
the last one the null class of classifier-free label dropout) to its time embedding. Methods call
``net(x, t)``, which is the null class: unconditional use is the default everywhere. To condition,
wrap the network: ``Conditioned(net, y=labels)`` or ``Conditioned(net, y_emb=embeddings)`` is a
module whose ``forward(x, t)`` passes the labels (or a replacement class embedding, which the
class-embedding attack of ``mfgstudy.injection`` perturbs) on, so no method needs to know.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t in [0, T], followed by a small MLP."""

    def __init__(self, dim: int, max_period: float = 1e4):
        super().__init__()
        self.dim, self.max_period = dim, max_period
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(self.max_period) * torch.arange(half, device=t.device) / half)
        args = 1000.0 * t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.sin(args), torch.cos(args)], dim=1))


class MLP(nn.Module):
    """Residual MLP on (x, t) for points; output has the shape of x."""

    def __init__(self, in_dim: int, width: int = 128, depth: int = 3, emb_dim: int = 64):
        super().__init__()
        self.temb = TimeEmbedding(emb_dim)
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.SiLU(), nn.Linear(width, width)) for _ in range(depth)]
        )
        self.tproj = nn.ModuleList([nn.Linear(emb_dim, width) for _ in range(depth)])
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, in_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self.temb(t)
        h = self.inp(x)
        for block, proj in zip(self.blocks, self.tproj, strict=True):
            h = h + block(h + proj(e))
        return self.out(h)


class FC(nn.Module):
    """Plain fully connected network on the concatenation (x, t): ``depth`` hidden layers of
    ``width`` units (the HJB-regularised SGM's 2 x 32 GELU network of the MFG-laboratory paper,
    section 7). Smooth in t, unlike a sinusoidal time embedding, which matters for losses that
    differentiate the network in t."""

    ACTIVATIONS = {"gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}

    def __init__(self, in_dim: int, width: int = 32, depth: int = 2, activation: str = "gelu"):
        super().__init__()
        act = self.ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        for k in range(depth):
            layers += [nn.Linear(in_dim + 1 if k == 0 else width, width), act()]
        self.body = nn.Sequential(*layers, nn.Linear(width, in_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x, t[:, None].to(x.dtype)], dim=1))


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(min(8, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.temb(e)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class TinyUNet(nn.Module):
    """Two-level UNet for small images (8x8 digits): 8x8 -> 4x4 -> 8x8 with a skip.

    With ``n_classes`` > 0 it is class-conditional: ``label_emb`` (n_classes + 1 rows, row
    ``n_classes`` the null class) is added to the time embedding. ``forward(x, t, y, y_emb)``: ``y``
    (labels, (B,) or an int; None is the null class) looks the embedding up, ``y_emb`` ((B, emb_dim)
    or (emb_dim,)) replaces the looked-up embedding."""

    def __init__(self, channels: int = 1, width: int = 32, emb_dim: int = 64, n_classes: int = 0):
        super().__init__()
        c = width
        self.n_classes, self.emb_dim = int(n_classes), int(emb_dim)
        if self.n_classes < 0:
            raise ValueError(f"n_classes must be >= 0, got {n_classes}")
        self.label_emb = nn.Embedding(self.n_classes + 1, emb_dim) if self.n_classes else None
        self.temb = TimeEmbedding(emb_dim)
        self.inp = nn.Conv2d(channels, c, 3, padding=1)
        self.down1 = ResBlock(c, c, emb_dim)
        self.pool = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid = ResBlock(2 * c, 2 * c, emb_dim)
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.up1 = ResBlock(2 * c, c, emb_dim)
        self.out = nn.Sequential(
            nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, channels, 3, padding=1)
        )

    @property
    def null_label(self) -> int:
        return self.n_classes

    def class_embedding(self, n: int, y=None, y_emb: torch.Tensor | None = None) -> torch.Tensor:
        """The (n, emb_dim) class embedding for labels ``y`` (None: the null class), or ``y_emb``
        where given."""
        if self.label_emb is None:
            raise ValueError("this TinyUNet is unconditional (n_classes = 0): it takes no label")
        if y_emb is not None:
            if y_emb.shape[-1] != self.emb_dim:
                raise ValueError(f"y_emb must end in emb_dim={self.emb_dim}: {tuple(y_emb.shape)}")
            return y_emb.to(self.label_emb.weight.dtype).expand(n, self.emb_dim)
        if y is None:
            y = self.null_label
        y = torch.as_tensor(y, dtype=torch.long, device=self.label_emb.weight.device)
        if y.dim() == 0:
            y = y.expand(n)
        return self.label_emb(y)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | int | None = None,
        y_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        e = self.temb(t)
        if self.label_emb is not None:
            e = e + self.class_embedding(x.shape[0], y, y_emb)
        elif y is not None or y_emb is not None:
            raise ValueError("this TinyUNet is unconditional (n_classes = 0): it takes no label")
        h0 = self.down1(self.inp(x), e)
        h = self.mid(self.pool(h0), e)
        h = self.up1(torch.cat([self.up(h), h0], dim=1), e)
        return self.out(h)


class Conditioned(nn.Module):
    """``net`` with its labels (or class embedding) bound: ``forward(x, t)`` calls
    ``net(x, t, y=y, y_emb=y_emb)``. Methods see an ordinary (x, t) network; the parameters are
    ``net``'s own, so training through the wrapper trains ``net``."""

    def __init__(self, net: nn.Module, y=None, y_emb: torch.Tensor | None = None):
        super().__init__()
        self.net, self.y, self.y_emb = net, y, y_emb

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x, t, y=self.y, y_emb=self.y_emb)


class BalancedLabels(nn.Module):
    """A class-conditional ``net`` used as an unconditional generator: row j of every batch gets
    the label j mod n_classes, a balanced draw from the class prior (the digits' classes are
    near-uniform). The sampler batches samples from a multiple of ``n_classes`` (checked by
    ``mfgstudy.sample``), so sample i always has label i mod n_classes. Chosen over the null
    class, which 3000 steps with 10% label dropout train too little (FD-digits 74 against 11)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.n_classes = net, int(net.n_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = torch.arange(x.shape[0]) % self.n_classes
        return self.net(x, t, y=y)


def is_conditional(net: nn.Module) -> bool:
    """Whether ``net`` takes class labels (a TinyUNet with n_classes > 0)."""
    return int(getattr(net, "n_classes", 0) or 0) > 0


NETS = {"mlp": MLP, "fc": FC, "unet": TinyUNet}


def build_net(spec: dict, event_shape: tuple[int, ...]) -> nn.Module:
    kind = spec["kind"]
    kwargs = {k: v for k, v in spec.items() if k != "kind"}
    if kwargs.get("n_classes") and kind != "unet":
        raise ValueError(f"class conditioning (n_classes) is implemented for unet only, not {kind}")
    if kind != "unet":
        kwargs.pop("n_classes", None)
    if kind in ("mlp", "fc"):
        if len(event_shape) != 1:
            raise ValueError(f"{kind} expects flat points, got event shape {event_shape}")
        return NETS[kind](event_shape[0], **kwargs)
    if kind == "unet":
        if len(event_shape) != 3:
            raise ValueError(f"unet expects (channels, h, w) images, got event shape {event_shape}")
        return TinyUNet(event_shape[0], **kwargs)
    raise ValueError(f"unknown net kind {kind!r}; choose from {sorted(NETS)}")


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


class DigitsClassifier(nn.Module):
    """Small CNN for 8x8 digits; ``features`` is the penultimate layer (FD-digits feature space)."""

    def __init__(self, n_classes: int = 10, width: int = 32, feat_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * width * 16, feat_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feat_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
