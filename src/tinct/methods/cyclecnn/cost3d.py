"""The regularized cost volume of M after Dong et al. 2019 (``ModelConfig.volume = "cost3d"``).

The dot-product volume (:mod:`.weight_volume`) scores each disparity from one feature pair alone.
Dong et al. 2019 (whose weight volume the Cycle-CNN paper follows) build a *cost volume* from both
views' features at every disparity and regularize it by 3-D convolutions over
disparity x height x width before the softmax. Here:

1. both views' ResNet features ``(N, C, H, W)`` are average-pooled by ``stride`` s (1 = full
   resolution, the straightforward form; 4 by default) and projected to ``F`` channels (1x1 conv);
2. the cost volume at coarse disparities ``k' = 0 .. D'-1`` (full-resolution disparity ``s k'``)
   stacks ``[A's features, B's features at column i' + k', k' s / 64, inside]``: ``2F + 2``
   channels (``F = 9``: 20), the last two the *position channels* (the disparity itself and
   whether the reference column lies inside the image);
3. a 3-D encoder-decoder (two stride-2 levels, ``c`` and ``2c`` channels, skip connections)
   turns it into one logit per voxel ``(N, D', H/s, W/s)``;
4. the logits are trilinearly up-sampled to ``(N, H, W, d)`` (:func:`upsample_logits`) and *added*
   to M's full-resolution scaled dot products, which act as the guide of the up-sampling: the coarse
   volume says which disparities are plausible, the fine dot product places the match to the pixel.
   The softmax over the ``d`` disparities then gives W as before.

With ``stride = 4``, ``d = 64`` at 780x1024 the 3-D network sees 17 x 195 x 256 voxels instead of
64 x 780 x 1024 (60x fewer voxels), which is what makes the 2 s target reachable on 2 CPU cores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct.nn.tiling import Strip

_CL = torch.channels_last_3d
POSITION_SCALE = 64.0  # the disparity channel is (full-resolution disparity) / 64
LEVELS = 2  # stride-2 levels of the 3-D encoder-decoder: sizes are padded to multiples of 2**LEVELS


def coarse_disparities(disparities: int, stride: int) -> int:
    """``D'``: coarse disparities ``0 .. D'-1`` cover full-resolution ``0 .. d-1`` (+1 to interpolate)."""
    return (int(disparities) - 1) // stride + 2 if stride > 1 else int(disparities)


def conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int = 1) -> torch.Tensor:
    """``F.conv3d`` ("same" padding for odd kernels) through oneDNN on the CPU: PyTorch's own dispatch
    takes a slow path for volumes shallower than 16 slices (10x slower at depth 10 here)."""
    pad = weight.shape[-1] // 2
    if x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available():
        x = x.contiguous(memory_format=_CL)
        return torch.mkldnn_convolution(x, weight, bias, [pad] * 3, [stride] * 3, [1] * 3, 1)
    return F.conv3d(x, weight, bias, stride=stride, padding=pad)  # pragma: no cover - no oneDNN


class ConvBN3d(nn.Module):
    """3x3x3 convolution + BatchNorm3d (no ReLU); in eval mode the BatchNorm is folded into the
    convolution (one oneDNN call)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm3d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.bn(conv3d(x, self.conv.weight, None, self.stride))
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = self.conv.weight * scale.view(-1, 1, 1, 1, 1)
        return conv3d(x, weight, bn.bias - bn.running_mean * scale, self.stride)


class Pointwise3d(nn.Conv3d):
    """1x1x1 convolution through :func:`conv3d`."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv3d(x, self.weight, self.bias)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` trilinearly resized to ``like``'s size, in channels-last-3d memory (oneDNN's fast layout:
    3-D convolutions on other layouts were up to 5x slower here)."""
    y = F.interpolate(x, size=like.shape[-3:], mode="trilinear", align_corners=False)
    return y.contiguous(memory_format=_CL)


class CostRegularizer(nn.Module):
    """Cost volume + 3-D encoder-decoder: features of A and B -> coarse logits ``(N, D', h', w')``.

    Encoder: level 0 (the volume's resolution, ``c0`` channels), two stride-2 levels with ``c`` and
    ``2c`` channels (16 and 32 as the authors' model). Decoder: a 3x3x3 convolution on each coarse
    level, projected (1x1x1) and trilinearly up-sampled onto the finer level's skip connection; the
    logit is a 1x1x1 projection of level 0. Every 3x3x3 convolution of the decoder runs on a coarse
    level: level 0 (``D' h' w'`` voxels) only pays the first convolution.

    Args:
        width: channels of the ResNet features.
        stride: pooling factor s of the cost volume (1: full resolution).
        features: F, projected channels per view (the volume has ``2F + 2`` channels).
        channels: c, channels of the first stride-2 level (the second has ``2c``); level 0 has ``c / 2``.
    """

    def __init__(self, width: int = 16, stride: int = 4, features: int = 9, channels: int = 16) -> None:
        super().__init__()
        self.stride = int(stride)
        self.proj_a = nn.Conv2d(width, features, 1)
        self.proj_b = nn.Conv2d(width, features, 1)
        c0, c1, c2 = channels // 2, channels, 2 * channels
        self.enc0 = ConvBN3d(2 * features + 2, c0)
        self.enc1 = ConvBN3d(c0, c1, 2)
        self.enc2 = ConvBN3d(c1, c2, 2)
        self.dec2 = ConvBN3d(c2, c2)
        self.up2 = Pointwise3d(c2, c1)
        self.dec1 = ConvBN3d(c1, c1)
        self.up1 = Pointwise3d(c1, c0)
        self.out = Pointwise3d(c0, 1)

    # halo (coarse rows) for exact row strips of the 3-D network; checked by the tests
    halo = 16

    def pool(self, feat_a: torch.Tensor, feat_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled, projected features ``(N, F, ceil(H/s), ceil(W/s))`` of A and B."""
        s = self.stride
        if s > 1:
            feat_a = F.avg_pool2d(feat_a, s, ceil_mode=True)
            feat_b = F.avg_pool2d(feat_b, s, ceil_mode=True)
        return self.proj_a(feat_a), self.proj_b(feat_b)

    def volume(self, pa: torch.Tensor, pb: torch.Tensor, coarse: int) -> torch.Tensor:
        """The cost volume of pooled features ``(N, F, h', w')``: ``(N, 2F + 2, D', h', w')`` zero-padded
        at the end of each of the three axes to a multiple of 4 (the encoder's strides), in
        channels-last-3d memory (built in place, no copy)."""
        n, f, h, w = pa.shape
        m = 2 ** LEVELS
        up = lambda v: -(-v // m) * m  # noqa: E731
        a, b = pa.permute(0, 2, 3, 1), pb.permute(0, 2, 3, 1)  # (N, h', w', F)
        if not (torch.is_grad_enabled() and (pa.requires_grad or pb.requires_grad)):
            vol = pa.new_zeros(n, up(coarse), up(h), up(w), 2 * f + 2)  # channels last, filled in place
            vol[:, :coarse, :h, :w, :f] = a[:, None]
            for k in range(min(coarse, w)):
                vol[:, k, :h, :w - k, f:2 * f] = b[:, :, k:]
                vol[:, k, :h, :w - k, 2 * f + 1] = 1.0
            vol[:, :coarse, :h, :w, 2 * f] = (torch.arange(coarse, dtype=pa.dtype) * (
                self.stride / POSITION_SCALE))[:, None, None]
            return vol.permute(0, 4, 1, 2, 3)
        ones = a.new_ones(n, h, w, 1)
        # with gradients: built from whole tensors (pad, cat, stack); slice assignments would make
        # autograd copy the whole volume's gradient once per disparity
        slices = []
        for k in range(coarse):
            shifted = F.pad(b[:, :, k:], (0, 0, 0, min(k, w))) if k < w else torch.zeros_like(b)
            inside = F.pad(ones[:, :, k:], (0, 0, 0, min(k, w))) if k < w else torch.zeros_like(ones)
            slices.append(torch.cat([a, shifted, ones * (k * self.stride / POSITION_SCALE), inside], dim=-1))
        vol = torch.stack(slices, dim=1)  # (N, D', h', w', 2F + 2): channels last
        vol = F.pad(vol, (0, 0, 0, up(w) - w, 0, up(h) - h, 0, up(coarse) - coarse))
        return vol.permute(0, 4, 1, 2, 3)

    def regularize(self, vol: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
        """3-D encoder-decoder: a padded volume of :meth:`volume` -> logits ``(N, D', h', w')`` cropped
        to ``size`` = ``(D', h', w')``."""
        x0 = F.relu(self.enc0(vol))
        x1 = F.relu(self.enc1(x0))
        y2 = F.relu(self.dec2(F.relu(self.enc2(x1))))
        y1 = F.relu(self.dec1(F.relu(_up(self.up2(y2), x1) + x1)))
        y0 = F.relu(_up(self.up1(y1), x0) + x0)
        logits = self.out(y0)[:, 0]
        return logits[:, :size[0], :size[1], :size[2]]

    def coarse_logits(self, feat_a: torch.Tensor, feat_b: torch.Tensor, disparities: int,
                      strip_rows: int | None = None) -> torch.Tensor:
        """Logits ``(N, D', ceil(H/s), ceil(W/s))`` of features ``(N, width, H, W)``.

        ``strip_rows``: run the 3-D network on row strips of about this many coarse rows (a multiple of
        4, halo :attr:`halo`), same result; None: whole image.
        """
        return self.pooled_logits(*self.pool(feat_a, feat_b), disparities, strip_rows)

    def pooled_logits(self, pa: torch.Tensor, pb: torch.Tensor, disparities: int,
                      strip_rows: int | None = None) -> torch.Tensor:
        """:meth:`coarse_logits` from the output of :meth:`pool` (which may be computed strip by strip)."""
        coarse = coarse_disparities(disparities, self.stride)
        h, w = pa.shape[-2:]
        if strip_rows is None or strip_rows >= h:
            return self.regularize(self.volume(pa, pb, coarse), (coarse, h, w))
        out = pa.new_empty(pa.shape[0], coarse, h, w)
        for s in aligned_strips(h, strip_rows, self.halo, 2 ** LEVELS):
            vol = self.volume(s.take(pa), s.take(pb), coarse)
            out[..., s.rows, :] = s.crop(self.regularize(vol, (coarse, s.hi - s.lo, w)))
        return out


def aligned_strips(height: int, rows: int, halo: int, multiple: int) -> list[Strip]:
    """Row strips whose every boundary (own rows and halo) is a multiple of ``multiple`` (so strided
    convolutions see the same phase as on the whole image); ``rows`` and ``halo`` are rounded up."""
    up = lambda v: -(-int(v) // multiple) * multiple  # noqa: E731
    rows, halo = max(multiple, up(rows)), up(halo)
    out = []
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        out.append(Strip(top, bottom, max(0, top - halo), min(height, bottom + halo)))
    return out


def _lerp_index(coords: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear interpolation at ``coords`` (clamped to ``[0, size-1]``): indices i0, i1 and weight t."""
    c = coords.clamp(0, size - 1)
    i0 = c.floor().long()
    return i0, (i0 + 1).clamp(max=size - 1), c - i0


def _lerp(x: torch.Tensor, dim: int, coords: torch.Tensor) -> torch.Tensor:
    """``x`` linearly resampled along ``dim`` at ``coords`` (in input-index units)."""
    i0, i1, t = _lerp_index(coords, x.shape[dim])
    shape = [1] * x.dim()
    shape[dim] = -1
    return torch.lerp(x.index_select(dim, i0), x.index_select(dim, i1), t.to(x.dtype).view(shape))


def _upsample_x(x: torch.Tensor, stride: int, width: int) -> torch.Tensor:
    """``(N, r, w', d)`` -> ``(N, r, width, d)`` linearly along dim 2 (centres as in
    :func:`upsample_logits`). Phase by phase: full-resolution column ``s x' + p`` blends two coarse
    columns with the same weight for every ``x'``, one fused :func:`torch.lerp` per phase ``p``
    written straight into the output (one pass over the full-size tensor)."""
    n, r, wc, d = x.shape
    s = stride
    if x.requires_grad or s == 1:
        return _lerp(x, 2, (torch.arange(width, dtype=torch.float32) + 0.5) / s - 0.5)
    xp = torch.cat([x[:, :, :1], x, x[:, :, -1:], x[:, :, -1:]], dim=2)  # replicated edges
    out = x.new_empty(n, r, wc * s, d)
    phases = out.view(n, r, wc, s, d)
    for p in range(s):
        c = (p + 0.5) / s - 0.5  # offset of the phase from its coarse column, in (-0.5, 0.5)
        lo = 0 if c < 0 else 1  # index of the left tap in xp (shifted by the one replicated column)
        torch.lerp(xp[:, :, lo:lo + wc], xp[:, :, lo + 1:lo + 1 + wc], c + 1 - lo, out=phases[:, :, :, p])
    if width <= wc * s:
        return out[:, :, :width]
    return _lerp(x, 2, (torch.arange(width, dtype=torch.float32) + 0.5) / s - 0.5)


def upsample_logits(logits: torch.Tensor, stride: int, disparities: int, width: int,
                    rows: range) -> torch.Tensor:
    """Coarse logits ``(N, D', h', w')`` at full resolution for image rows ``rows``: ``(N, len(rows),
    width, d)`` (disparity last, the layout of the banded average).

    Trilinear: along x and y the coarse pixel ``i'`` is centred at ``s i' + (s - 1) / 2`` (align_corners
    = False, edges replicated); along the disparity, coarse ``k'`` is full-resolution ``s k'``. With
    ``stride`` 1 it is a permutation (and crop to ``d``).
    """
    s = stride
    coarse = logits.shape[1]
    kd = torch.arange(disparities, dtype=torch.float32) / s
    i0, i1, t = _lerp_index(kd, coarse)
    interp = torch.zeros(coarse, disparities, dtype=logits.dtype)  # (D', d), two taps per column
    interp.index_put_((i0, torch.arange(disparities)), (1 - t).to(logits.dtype), accumulate=True)
    interp.index_put_((i1, torch.arange(disparities)), t.to(logits.dtype), accumulate=True)
    ys = (torch.arange(rows.start, rows.stop, dtype=torch.float32) + 0.5) / s - 0.5
    x = torch.matmul(_lerp(logits, 2, ys).permute(0, 2, 3, 1), interp)  # (N, rows, w', d)
    return _upsample_x(x, s, width)
