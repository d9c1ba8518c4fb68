"""Fused float32 inference of M and the refinement CNN (the default ``optimized`` path).

Same arithmetic as the straightforward modules (to ~1e-6), arranged for a CPU:

- every ResNet runs with BatchNorm folded into its convolutions and oneDNN's fused convolutions:
  conv+bias+ReLU in one call and the block's second conv+bias+skip-add+ReLU in another, so each
  layer reads and writes its 16-channel activation once (eager PyTorch makes 3-4 more passes);
- the ResNets run on row strips (:func:`tinct.nn.tiling.strips`) with a halo of their receptive
  radius (18 rows; exact), which keeps activations in cache, and each ResNet gets only its own
  halo: the refinement's guide and body ResNets run as two strip passes (halo 18 and 19) instead
  of one pass with halo 37;
- the cost volume over the ``d`` disparities is :func:`~.weight_volume.banded_average` (block
  matmuls, a few rows at a time) instead of a loop over disparities;
- with the regularized cost volume (``volume = "cost3d"``, :mod:`.cost3d`) the ResNet features of the
  whole image are kept (``2 x width`` floats per pixel; above :attr:`FusedNetworks.keep_feature_pixels`
  they are pooled strip by strip and computed again in the second pass instead), the 3-D network runs
  once on the pooled volume (in row strips of ~64k coarse pixels with an aligned halo, so its memory
  stays bounded at any size) and each strip's banded average adds that strip's up-sampled logits
  (``d`` floats per pixel of the strip only).

Without oneDNN (``torch.ops.mkldnn._convolution_pointwise`` missing) it falls back to
``F.conv2d`` + ReLU (same result, slower).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinct.methods.cyclecnn.cost3d import aligned_strips, upsample_logits
from tinct.methods.cyclecnn.weight_volume import banded_average
from tinct.nn.resnet import ResNetExtractor, fold_batchnorm
from tinct.nn.tiling import Strip, strips

try:
    _POINTWISE = torch.ops.mkldnn._convolution_pointwise
    _POINTWISE_INPLACE = torch.ops.mkldnn._convolution_pointwise_  # writes into the skip tensor
except (AttributeError, RuntimeError):  # pragma: no cover - torch built without oneDNN
    _POINTWISE = _POINTWISE_INPLACE = None


@functools.cache
def _onednn_ok() -> bool:
    """Whether oneDNN's fused convolution ops exist and run here (probed once on a tiny input)."""
    if _POINTWISE_INPLACE is None or not torch.backends.mkldnn.is_available():
        return False
    try:
        x = torch.ones(1, 2, 3, 3).contiguous(memory_format=torch.channels_last)
        y = _POINTWISE_INPLACE.binary(x.clone(), x, torch.ones(2, 2, 3, 3), torch.zeros(2), [1, 1], [1, 1],
                                      [1, 1], 1, "add", None, "relu", [], "")
        return float(y[0, 0, 1, 1]) == 19.0  # 2 channels x 9 taps + the skip
    except RuntimeError:  # pragma: no cover - registered but unsupported on this build/CPU
        return False


@dataclass
class _Conv:
    """A convolution with its BatchNorm folded in: weight ``(O, I, k, k)``, bias ``(O,)``."""

    weight: torch.Tensor
    bias: torch.Tensor
    padding: int

    @classmethod
    def of(cls, conv: nn.Conv2d, min_in: int = 1) -> _Conv:
        """``min_in``: zero input channels appended to the weight up to this many."""
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        weight = conv.weight.detach()
        weight = F.pad(weight, (0, 0, 0, 0, 0, max(0, min_in - weight.shape[1])))
        return cls(weight.contiguous(), bias.detach().contiguous(), int(conv.padding[0]))

    def __call__(self, x: torch.Tensor, relu: bool, skip: torch.Tensor | None = None,
                 fused: bool = True) -> torch.Tensor:
        """``relu?(conv(x) + bias (+ skip))``; ``x`` and ``skip`` channels-last ``(N, C, h, W)``.
        With ``skip`` the result is written into ``skip`` (one allocation less per block)."""
        p, one = [self.padding, self.padding], [1, 1]
        if fused:
            if skip is None:
                act = "relu" if relu else "none"
                return _POINTWISE(x, self.weight, self.bias, p, one, one, 1, act, [], "")
            return _POINTWISE_INPLACE.binary(skip, x, self.weight, self.bias, p, one, one, 1, "add", None,
                                             "relu" if relu else None, [], "")
        y = F.conv2d(x, self.weight, self.bias, padding=self.padding)
        if skip is not None:
            y = skip.add_(y)
        return y.relu_() if relu else y


class FusedResNet:
    """Inference copy of a :class:`~tinct.nn.resnet.ResNetExtractor` (eval-mode BatchNorm folded).

    ``__call__``: ``(N, in_ch, h, W)`` -> ``(N, out_ch, h, W)`` channels-last, same as the module.
    """

    def __init__(self, extractor: ResNetExtractor) -> None:
        already = isinstance(extractor.head[1], nn.Identity)  # an output of fold_batchnorm
        folded = extractor if already else fold_batchnorm(extractor)
        # oneDNN's convolution with one input channel is ~7x slower than with two: a gray input
        # gets a zero second channel (and the weights a zero slice; the sum is unchanged)
        self.head = _Conv.of(folded.head[0], min_in=2)
        self.in_channels = int(self.head.weight.shape[1])
        self.blocks = [(_Conv.of(b.conv1), _Conv.of(b.conv2)) for b in folded.blocks]
        self.tail = _Conv.of(folded.tail) if folded.tail is not None else None
        self.radius = extractor.receptive_radius
        last = self.tail if self.tail is not None else self.head
        self.out_channels = int(last.weight.shape[0])
        self.fused = _onednn_ok()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fused
        if x.shape[1] < self.in_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.in_channels - x.shape[1]))
        x = self.head(x.contiguous(memory_format=torch.channels_last), True, fused=f)
        for conv1, conv2 in self.blocks:  # x is our own tensor from here: updated in place
            x = conv2(conv1(x, True, fused=f), True, skip=x, fused=f)
        return self.tail(x, False, fused=f) if self.tail is not None else x


class _Centered:
    """``x - 0.5`` in channels-last memory, computed for the rows a strip takes (``s.take(c)`` reads
    ``c[..., lo:hi, :]``), so no full-size centred copy of the input exists."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self.shape = x.shape

    def __getitem__(self, key: tuple) -> torch.Tensor:
        return (self.x[key] - 0.5).contiguous(memory_format=torch.channels_last)


class FusedNetworks:
    """Fused inference of M (+ the refinement CNN); see the module docstring.

    Args:
        colorizer: a :class:`~.model.ColorizationCNN` (BatchNorm in eval mode is folded).
        refiner: a :class:`~.refine.RefinementCNN` or None.
    """

    # default strip: ~300k pixels (288 rows at W = 1024: 3 strips of 260 for 780 rows); measured at
    # 780x1024 on 2 threads, 3 strips of 260 beat 4 of 195 by ~3 % and 2 of 390 (out of cache)
    strip_pixels = 300_000
    cost_strip_pixels = 65_536  # coarse pixels per strip of the 3-D network (cost3d)
    # cost3d keeps the features of images up to this size (2 x 16 floats per pixel, 512 MB at 4 MP);
    # larger ones pool them strip by strip and compute them again for the banded average (+2 ResNets)
    keep_feature_pixels = 4_000_000

    def __init__(self, colorizer: nn.Module, refiner: nn.Module | None) -> None:
        self.gray = FusedResNet(colorizer.extract_gray)
        self.color = FusedResNet(colorizer.extract_color)
        self.scale = colorizer.log_scale.detach().exp()
        self.default_disparities = int(colorizer.config.disparities)
        self.cost = getattr(colorizer, "regularizer", None)
        if self.cost is not None:
            self.cost.eval()
        self.guide = self.body = None
        if refiner is not None:
            self.guide = FusedResNet(refiner.guide)
            self.body = FusedResNet(refiner.body)

    @torch.no_grad()
    def colorize(self, gray: torch.Tensor, ref_ycbcr: torch.Tensor, *, disparities: int | None = None,
                 refine: bool = True, strip_rows: int | None = None, block: int = 16,
                 rows: int = 8) -> torch.Tensor:
        """M (then the refinement) in M's geometry (matches at ``i + k``).

        Args:
            gray: ``(N, 1, H, W)`` in [0, 1]; ref_ycbcr: ``(N, 3, H, W)`` YCbCr in [0, 1].
            strip_rows: at most this many rows per ResNet strip (default ``strip_pixels / W``, >= 32);
            block, rows: see :func:`~.weight_volume.banded_average`.

        Returns:
            ``(N, 3, H, W)`` YCbCr (contiguous); Y is ``gray``.
        """
        if gray.shape[-2:] != ref_ycbcr.shape[-2:]:
            raise ValueError(f"gray {tuple(gray.shape)} and reference {tuple(ref_ycbcr.shape)} differ "
                             "in size")
        d = int(disparities or self.default_disparities)
        cl = torch.channels_last
        n, _, h, w = gray.shape
        strip_rows = int(strip_rows or max(32, self.strip_pixels // w))
        refine = refine and self.body is not None
        g, r = _Centered(gray), _Centered(ref_ycbcr)  # centred channels-last rows, made strip by strip
        halo = max(self.gray.radius, self.color.radius, self.guide.radius if refine else 0)
        m_strips = strips(h, strip_rows, halo)
        ycc = torch.empty(n, 3, h, w).contiguous(memory_format=cl)  # M's output
        ycc[:, :1] = gray
        result = torch.empty(n, 3, h, w) if refine else None
        # the refinement body: the same rows, its own halo (over M's output and the guide features)
        body_strips = [s.with_halo(self.body.radius, h) for s in m_strips] if refine else []
        guides: list[tuple[Strip, torch.Tensor]] = []  # guide features of the strips still needed
        features, bias = self._matching(g, r, m_strips, d)
        for s in m_strips:
            fa, fb = features(s)
            ycc[:, 1:, s.rows] = banded_average(fa, fb, ref_ycbcr[:, 1:, s.rows], d, self.scale,
                                                block=block, rows=rows, bias=bias(s))
            if not refine:
                continue
            guides.append((s, s.crop(self.guide(s.take(g)))))
            # refine every strip whose halo rows of M's output are done (one strip behind M)
            while body_strips and body_strips[0].hi <= s.bottom:
                self._refine_strip(body_strips.pop(0), guides, ycc, result)
                if body_strips:
                    guides = [(gs, t) for gs, t in guides if gs.bottom > body_strips[0].lo]
        if result is None:
            return ycc.contiguous()
        result[:, :1] = gray
        return result

    def _matching(self, g: torch.Tensor, r: torch.Tensor, m_strips: list[Strip], d: int):
        """``features(strip) -> (fa, fb)`` of the strip's own rows and ``bias(strip)`` (up-sampled cost3d
        logits ``(N, rows, W, d)``, or None for the dot-product volume)."""
        if self.cost is None:
            return (lambda s: (s.crop(self.gray(s.take(g))), s.crop(self.color(s.take(r))))), (lambda s: None)
        n, _, h, w = g.shape
        stride = self.cost.stride
        strip_rows = max(4, self.cost_strip_pixels // -(-w // stride))
        if h * w > self.keep_feature_pixels:  # pool strip by strip, compute the features again later
            halo = max(self.gray.radius, self.color.radius)
            pooled = [self.cost.pool(s.crop(self.gray(s.take(g))), s.crop(self.color(s.take(r))))
                      for s in aligned_strips(h, m_strips[0].bottom, halo, stride)]  # rows: multiples of s
            pa, pb = (torch.cat([p[i] for p in pooled], dim=2) for i in (0, 1))
            logits = self.cost.pooled_logits(pa, pb, d, strip_rows=strip_rows)
            features = lambda s: (s.crop(self.gray(s.take(g))), s.crop(self.color(s.take(r))))  # noqa: E731
        else:
            cl = torch.channels_last
            fa = torch.empty(n, self.gray.out_channels, h, w).contiguous(memory_format=cl)
            fb = torch.empty(n, self.color.out_channels, h, w).contiguous(memory_format=cl)
            for s in m_strips:
                fa[:, :, s.rows] = s.crop(self.gray(s.take(g)))
                fb[:, :, s.rows] = s.crop(self.color(s.take(r)))
            logits = self.cost.coarse_logits(fa, fb, d, strip_rows=strip_rows)
            features = lambda s: (fa[:, :, s.rows], fb[:, :, s.rows])  # noqa: E731
        return features, (lambda s: upsample_logits(logits, stride, d, w, range(s.top, s.bottom)))

    def _refine_strip(self, strip: Strip, guides: list[tuple[Strip, torch.Tensor]], ycc: torch.Tensor,
                      result: torch.Tensor) -> None:
        """Refinement of rows ``top:bottom`` of ``ycc`` into ``result`` (Cb, Cr); the body ResNet reads
        rows ``lo:hi`` of the guide features (gathered from ``guides``: each strip's own rows) and of
        ``ycc``."""
        lo, hi = strip.lo, strip.hi
        parts = [t[..., max(lo, gs.top) - gs.top:min(hi, gs.bottom) - gs.top, :]
                 for gs, t in guides if gs.bottom > lo and gs.top < hi]
        feats = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]
        x = torch.cat([feats, strip.take(ycc) - 0.5], dim=1)
        residual = strip.crop(self.body(x))
        result[:, 1:, strip.rows] = (ycc[:, 1:, strip.rows] + residual).clamp_(0.0, 1.0)
