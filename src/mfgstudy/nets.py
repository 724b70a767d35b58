"""Networks: an MLP with time embedding and a plain (x, t) network for 2-D points, a small UNet
for 8x8 images, the DDPM UNet of the paper-scale image runs (CIFAR-10, CelebA-HQ-256), and the
digits classifier whose penultimate layer is the feature space of FD-digits.

``build_net(spec, event_shape)`` picks by ``spec["kind"]``: each kind is registered beside its
class (``@register_net("mlp")``, ``mfgstudy.registry``), whose ``for_event_shape`` builds it for a
data set's event shape; adding an architecture is one class here.

Class conditioning (images): ``TinyUNet(n_classes=K)`` and ``DDPMUNet(n_classes=K)`` add a learned
class embedding (K + 1 rows, the last one the null class of classifier-free label dropout) to their
time embedding (the interface is :class:`ClassConditional`). Methods call ``net(x, t)``, which is
the null class: unconditional use is the default everywhere. To condition, wrap the network:
``Conditioned(net, y=labels)`` or ``Conditioned(net, y_emb=embeddings)`` is a module whose
``forward(x, t)`` passes the labels (or a replacement class embedding, which the class-embedding
attack of ``mfgstudy.analysis.injection`` perturbs) on, so no method needs to know.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mfgstudy.registry import NETS, register_net


def _flat(kind: str, event_shape: tuple[int, ...]) -> int:
    """The dimension of flat points, which networks on points expect."""
    if len(event_shape) != 1:
        raise ValueError(f"{kind} expects flat points, got event shape {event_shape}")
    return event_shape[0]


def _image(kind: str, event_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(channels, h, w), which networks on images expect."""
    if len(event_shape) != 3:
        raise ValueError(f"{kind} expects (channels, h, w) images, got event shape {event_shape}")
    return event_shape


class TimeEmbedding(nn.Module):
    """Sinusoidal features (``dim`` of them) of t in [0, T], at the frequencies of DDPM's integer
    timesteps 1000 t, followed by a small MLP to ``out_dim`` (default ``dim``)."""

    def __init__(self, dim: int, max_period: float = 1e4, out_dim: int | None = None):
        super().__init__()
        self.dim, self.max_period = dim, max_period
        out = out_dim or dim
        self.mlp = nn.Sequential(nn.Linear(dim, out), nn.SiLU(), nn.Linear(out, out))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(self.max_period) * torch.arange(half, device=t.device) / half)
        args = 1000.0 * t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.sin(args), torch.cos(args)], dim=1))


@register_net("mlp")
class MLP(nn.Module):
    """Residual MLP on (x, t) for points; output has the shape of x."""

    @classmethod
    def for_event_shape(cls, kind: str, event_shape: tuple[int, ...], **kwargs) -> MLP:
        return cls(_flat(kind, event_shape), **kwargs)

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


def _gelu_derivatives(a: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """GELU (exact, a Phi(a)) and its first two derivatives at a."""
    pdf = torch.exp(-0.5 * a * a) * (0.5 * math.sqrt(2.0 / math.pi))
    cdf = 0.5 * (1.0 + torch.erf(a * math.sqrt(0.5)))
    return a * cdf, cdf + a * pdf, pdf * (2.0 - a * a)


def _silu_derivatives(a: torch.Tensor) -> tuple[torch.Tensor, ...]:
    s = torch.sigmoid(a)
    return a * s, s * (1.0 + a * (1.0 - s)), s * (1.0 - s) * (2.0 + a * (1.0 - 2.0 * s))


def _tanh_derivatives(a: torch.Tensor) -> tuple[torch.Tensor, ...]:
    th = torch.tanh(a)
    d1 = 1.0 - th * th
    return th, d1, -2.0 * th * d1


@register_net("fc")
class FC(nn.Module):
    """Plain fully connected network on the concatenation (x, t): ``depth`` hidden layers of
    ``width`` units (the HJB-regularised SGM's 2 x 32 GELU network of the MFG-laboratory paper,
    section 7). Smooth in t, unlike a sinusoidal time embedding, which matters for losses that
    differentiate the network in t: :meth:`jet` gives those derivatives in one pass."""

    ACTIVATIONS = {"gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}
    # each activation with its first two derivatives, for the jet
    DERIVATIVES = {"gelu": _gelu_derivatives, "silu": _silu_derivatives,
                   "tanh": _tanh_derivatives}  # fmt: skip

    @classmethod
    def for_event_shape(cls, kind: str, event_shape: tuple[int, ...], **kwargs) -> FC:
        return cls(_flat(kind, event_shape), **kwargs)

    def __init__(self, in_dim: int, width: int = 32, depth: int = 2, activation: str = "gelu"):
        super().__init__()
        act = self.ACTIVATIONS[activation]
        self.activation = activation
        layers: list[nn.Module] = []
        for k in range(depth):
            layers += [nn.Linear(in_dim + 1 if k == 0 else width, width), act()]
        self.body = nn.Sequential(*layers, nn.Linear(width, in_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x, t[:, None].to(x.dtype)], dim=1))

    def jet(self, x: torch.Tensor, t: torch.Tensor, order: int = 2) -> tuple:
        """(f, df, lap, f_t) at (x, t) for x (n, d): the output f (n, d); its derivatives along
        the unit vectors of x, df (d, n, d) with df[k, :, i] = d f_i / d x_k; the Laplacian in
        x of each component (n, d); and the derivative in the time input t (n, d), all
        differentiable in the parameters. With ``order`` 1: (f, df, None, None).

        Forward mode by hand: each layer carries the value, its d first derivatives, the sum of
        its d pure second derivatives and its derivative in t; a linear layer maps these d + 2
        streams in one batched matmul, an activation a applies a'(z) dz to the first-order
        streams and a'(z) lap z + a''(z) sum_k (d_k z)^2 to the Laplacian. The same numbers as
        nested ``torch.func.jvp`` calls (``mfgstudy.core.diffops``), without re-running the
        network per direction."""
        if order not in (1, 2):
            raise ValueError(f"jet order must be 1 or 2, got {order}")
        n, d = x.shape
        z = torch.cat([x, t[:, None].to(x.dtype)], dim=1)
        # tangents of the input: e_1..e_d (x); with order 2 also 0 (the Laplacian) and e_{d+1}
        eye = torch.eye(d + 1, dtype=x.dtype, device=x.device)
        tan = eye[:d] if order == 1 else torch.cat([eye[:d], torch.zeros_like(eye[:1]), eye[d:]])
        tan = tan[:, None, :].expand(len(tan), n, d + 1)
        derivatives = self.DERIVATIVES[self.activation]
        layers = [m for m in self.body if isinstance(m, nn.Linear)]
        for k, lin in enumerate(layers):
            z = lin(z)
            tan = torch.matmul(tan, lin.weight.T)
            if k == len(layers) - 1:
                break
            z, d1, d2 = derivatives(z)
            if order == 1:
                tan = d1 * tan
            else:
                first, lap, time = torch.split(tan, [d, 1, 1])
                lap = d1 * lap + d2 * first.square().sum(0, keepdim=True)
                tan = torch.cat([d1 * first, lap, d1 * time])
        if order == 1:
            return z, tan, None, None
        return z, tan[:d], tan[d], tan[d + 1]


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


class ClassConditional:
    """The class-conditioning interface shared by the UNets (a mixin before ``nn.Module``; the
    class sets ``n_classes``, ``emb_dim`` and ``label_emb``, an ``nn.Embedding`` of n_classes + 1
    rows or None when unconditional)."""

    n_classes: int
    emb_dim: int
    label_emb: nn.Embedding | None

    @property
    def null_label(self) -> int:
        return self.n_classes

    def _unconditional(self) -> ValueError:
        return ValueError(
            f"this {type(self).__name__} is unconditional (n_classes = 0): it takes no label"
        )

    def class_embedding(self, n: int, y=None, y_emb: torch.Tensor | None = None) -> torch.Tensor:
        """The (n, emb_dim) class embedding for labels ``y`` (None: the null class), or ``y_emb``
        where given."""
        if self.label_emb is None:
            raise self._unconditional()
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

    def condition(self, e: torch.Tensor, n: int, y=None, y_emb: torch.Tensor | None = None):
        """The time embedding ``e`` plus the class embedding of a batch of ``n`` (conditional
        nets); an unconditional net refuses labels."""
        if self.label_emb is not None:
            return e + self.class_embedding(n, y, y_emb)
        if y is not None or y_emb is not None:
            raise self._unconditional()
        return e


@register_net("unet")
class TinyUNet(ClassConditional, nn.Module):
    """Two-level UNet for small images (8x8 digits): 8x8 -> 4x4 -> 8x8 with a skip.

    With ``n_classes`` > 0 it is class-conditional: ``label_emb`` (n_classes + 1 rows, row
    ``n_classes`` the null class) is added to the time embedding. ``forward(x, t, y, y_emb)``: ``y``
    (labels, (B,) or an int; None is the null class) looks the embedding up, ``y_emb`` ((B, emb_dim)
    or (emb_dim,)) replaces the looked-up embedding."""

    @classmethod
    def for_event_shape(cls, kind: str, event_shape: tuple[int, ...], **kwargs) -> TinyUNet:
        return cls(_image(kind, event_shape)[0], **kwargs)

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

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | int | None = None,
        y_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        e = self.condition(self.temb(t), x.shape[0], y, y_emb)
        h0 = self.down1(self.inp(x), e)
        h = self.mid(self.pool(h0), e)
        h = self.up1(torch.cat([self.up(h), h0], dim=1), e)
        return self.out(h)


# --- the DDPM UNet (paper scale) -----------------------------------------------------------------
def _group_norm(c: int) -> nn.GroupNorm:
    """GroupNorm(32) as in DDPM; fewer groups (gcd(32, c)) where c is not a multiple of 32."""
    return nn.GroupNorm(math.gcd(32, c), c, eps=1e-6)


def _zero(module: nn.Module) -> nn.Module:
    """The module with zeroed parameters (DDPM's init_scale ~ 0 on residual outputs, ADM's
    zero_module): every residual branch starts as the identity and the output at 0."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class DDPMResBlock(nn.Module):
    """DDPM's residual block: GroupNorm, SiLU, 3x3 conv, + a projection of SiLU(time embedding),
    GroupNorm, SiLU, dropout, 3x3 conv (zero-initialised); a 1x1 conv on the skip where the
    channel count changes."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = _group_norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(emb_dim, c_out)
        self.norm2 = _group_norm(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.temb(nn.functional.silu(e))[:, :, None, None]
        h = self.conv2(self.dropout(nn.functional.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Self-attention over the h * w positions (DDPM's AttnBlock; ``num_heads`` > 1 splits the
    channels into heads as in ADM), residual, output projection zero-initialised. Plain softmax
    attention, so every order of derivative exists (HJB-SGM differentiates the score in x)."""

    def __init__(self, c: int, num_heads: int = 1):
        super().__init__()
        if c % num_heads:
            raise ValueError(f"attention: {c} channels do not split into {num_heads} heads")
        self.heads = num_heads
        self.norm = _group_norm(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = _zero(nn.Conv2d(c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        att = torch.einsum("bhcq,bhck->bhqk", q, k) * (c // self.heads) ** -0.5
        out = torch.einsum("bhqk,bhck->bhcq", att.softmax(dim=-1), v)
        return x + self.proj(out.reshape(b, c, h, w))


class _Level(nn.Module):
    """One resolution of the UNet: residual blocks, each followed by attention (or nothing),
    then a resampling conv (or nothing)."""

    def __init__(self, blocks: list, attns: list, resample: nn.Module | None):
        super().__init__()
        self.blocks, self.attns = nn.ModuleList(blocks), nn.ModuleList(attns)
        self.resample = resample


class Downsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))


@register_net("ddpm_unet")
class DDPMUNet(ClassConditional, nn.Module):
    """The UNet of DDPM (Ho et al. 2020, appendix B), ADM-style options: ``ch`` base channels,
    ``ch_mult`` per resolution (each but the last followed by a stride-2 downsampling conv),
    ``num_res_blocks`` residual blocks per resolution on the way down (one more on the way up,
    fed the skip connections), self-attention after the blocks at the feature-map sizes in
    ``attn_resolutions`` and in the middle (block, attention, block), GroupNorm(32), SiLU,
    ``dropout`` in every block, sinusoidal time embedding (``ch`` features) through a 2-layer MLP to
    ``4 ch``. Square images of any ``channels`` and side (``resolution``, divisible by
    2^(len(ch_mult) - 1); 32..256 in workflow/configs/paper.yaml).

    Class conditioning as :class:`TinyUNet`: with ``n_classes`` > 0 a learned embedding
    (n_classes + 1 rows, the last the null class; ``emb_dim`` = 4 ch) is added to the time
    embedding; ``forward(x, t, y=None, y_emb=None)``."""

    @classmethod
    def for_event_shape(cls, kind: str, event_shape: tuple[int, ...], **kwargs) -> DDPMUNet:
        c, h, w = _image(kind, event_shape)
        if h != w:
            raise ValueError(f"{kind} expects square images, got event shape {event_shape}")
        return cls(c, h, **kwargs)

    def __init__(
        self,
        channels: int = 3,
        resolution: int = 32,
        ch: int = 128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks: int = 2,
        attn_resolutions=(16,),
        dropout: float = 0.1,
        num_heads: int = 1,
        n_classes: int = 0,
    ):
        super().__init__()
        ch_mult, attn_at = tuple(int(m) for m in ch_mult), {int(r) for r in attn_resolutions}
        if resolution % 2 ** (len(ch_mult) - 1):
            raise ValueError(
                f"ddpm_unet: resolution {resolution} is not divisible by 2^{len(ch_mult) - 1} "
                f"(ch_mult {list(ch_mult)} halves it {len(ch_mult) - 1} times)"
            )
        self.n_classes, self.emb_dim = int(n_classes), 4 * int(ch)
        if self.n_classes < 0:
            raise ValueError(f"n_classes must be >= 0, got {n_classes}")
        self.resolution = int(resolution)
        emb = self.emb_dim
        self.label_emb = nn.Embedding(self.n_classes + 1, emb) if self.n_classes else None
        self.temb = TimeEmbedding(ch, out_dim=emb)
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)

        def attn(c: int, res: int) -> nn.Module:
            return AttnBlock(c, num_heads) if res in attn_at else nn.Identity()

        skips, c, res = [ch], ch, self.resolution
        self.down = nn.ModuleList()
        for i, mult in enumerate(ch_mult):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(DDPMResBlock(c, ch * mult, emb, dropout))
                c = ch * mult
                attns.append(attn(c, res))
                skips.append(c)
            last = i == len(ch_mult) - 1
            self.down.append(_Level(blocks, attns, None if last else Downsample(c)))
            if not last:
                skips.append(c)
                res //= 2
        self.mid1 = DDPMResBlock(c, c, emb, dropout)
        self.mid_attn = AttnBlock(c, num_heads)
        self.mid2 = DDPMResBlock(c, c, emb, dropout)
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(ch_mult))):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(DDPMResBlock(c + skips.pop(), ch * mult, emb, dropout))
                c = ch * mult
                attns.append(attn(c, res))
            self.up.append(_Level(blocks, attns, Upsample(c) if i else None))
            if i:
                res *= 2
        self.out = nn.Sequential(
            _group_norm(c), nn.SiLU(), _zero(nn.Conv2d(c, channels, 3, padding=1))
        )

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | int | None = None,
        y_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        e = self.condition(self.temb(t), x.shape[0], y, y_emb)
        h = self.conv_in(x)
        hs = [h]
        for level in self.down:
            for block, att in zip(level.blocks, level.attns, strict=True):
                h = att(block(h, e))
                hs.append(h)
            if level.resample is not None:
                h = level.resample(h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, e)), e)
        for level in self.up:
            for block, att in zip(level.blocks, level.attns, strict=True):
                h = att(block(torch.cat([h, hs.pop()], dim=1), e))
            if level.resample is not None:
                h = level.resample(h)
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
    ``mfgstudy.jobs.sample``), so sample i always has label i mod n_classes. Chosen over the null
    class, which 3000 steps with 10% label dropout train too little (FD-digits 74 against 11)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.n_classes = net, int(net.n_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = torch.arange(x.shape[0], device=x.device) % self.n_classes
        return self.net(x, t, y=y)


def is_conditional(net: nn.Module) -> bool:
    """Whether ``net`` takes class labels (a UNet with n_classes > 0)."""
    return int(getattr(net, "n_classes", 0) or 0) > 0


def build_net(spec: dict, event_shape: tuple[int, ...]) -> nn.Module:
    """The network of ``spec`` (its kind's class, ``mfgstudy.registry.NETS``) for data of
    ``event_shape``. ``n_classes`` is for class-conditional nets (:class:`ClassConditional`)."""
    kind = spec["kind"]
    cls = NETS.get(kind)
    kwargs = {k: v for k, v in spec.items() if k != "kind"}
    if not issubclass(cls, ClassConditional):
        if kwargs.pop("n_classes", None):
            conditional = [k for k in NETS if issubclass(NETS.get(k), ClassConditional)]
            raise ValueError(
                f"class conditioning (n_classes) is implemented for {', '.join(conditional)} "
                f"only, not {kind}"
            )
    return cls.for_event_shape(kind, event_shape, **kwargs)


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
