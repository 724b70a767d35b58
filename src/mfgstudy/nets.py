"""Networks: an MLP with time embedding and a plain (x, t) network for 2-D points, a small UNet
for 8x8 images, and the digits classifier whose penultimate layer is the feature space of
FD-digits.

``build_net(spec, event_shape)`` picks by ``spec["kind"]``; adding an architecture is one class
and one entry in ``NETS``.
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
    """Two-level UNet for small images (8x8 digits): 8x8 -> 4x4 -> 8x8 with a skip."""

    def __init__(self, channels: int = 1, width: int = 32, emb_dim: int = 64):
        super().__init__()
        c = width
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

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self.temb(t)
        h0 = self.down1(self.inp(x), e)
        h = self.mid(self.pool(h0), e)
        h = self.up1(torch.cat([self.up(h), h0], dim=1), e)
        return self.out(h)


NETS = {"mlp": MLP, "fc": FC, "unet": TinyUNet}


def build_net(spec: dict, event_shape: tuple[int, ...]) -> nn.Module:
    kind = spec["kind"]
    kwargs = {k: v for k, v in spec.items() if k != "kind"}
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
