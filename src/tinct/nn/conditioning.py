"""Conditioning an image network on a vector (a caption's encoding): FiLM and CONCAT.

Manjunatha, Iyyer, Boyd-Graber & Davis, "Learning to Color from Language" (NAACL 2018; survey
seed 002) compare two ways of feeding a caption vector ``c`` ``(N, D)`` to the feature maps
``x`` ``(N, C, H, W)`` of every block of a colorization network:

- :class:`FiLM` (Perez et al. 2018): a per-channel scale and shift predicted from ``c``,
  ``x * γ(c) + β(c)``; ``2 C D`` parameters per layer. Initialised to the identity
  (``γ = 1``, ``β = 0`` for every caption), so a network with FiLM layers starts as the same
  network without them.
- :class:`ConcatCondition`: ``c`` broadcast over ``H x W``, concatenated to ``x`` and mixed back to
  ``C`` channels by a 1x1 convolution + ReLU; ``C (C + D)`` parameters per layer. Initialised to
  the identity on non-negative ``x`` (the outputs of the ReLU blocks it follows): the ``x`` part of
  the convolution is the identity matrix, the caption part zero.

Both map ``(N, C, H, W), (N, D) -> (N, C, H, W)``. :class:`ConditionedStack` holds one layer per
conditioned block and is the ``hook`` that :meth:`tinct.nn.unet.UNet.encode` / ``decode`` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

KINDS = ("film", "concat", "none")


class FiLM(nn.Module):
    """Feature-wise linear modulation: ``x * (1 + Δγ(c)) + β(c)``, both linear in ``c``, zero at init."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond.to(x.dtype)).chunk(2, dim=1)
        return x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]


class ConcatCondition(nn.Module):
    """Broadcast ``c``, concatenate, 1x1 conv + ReLU back to ``channels`` (identity at init for x >= 0)."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(channels + dim, channels, 1)
        with torch.no_grad():
            self.mix.weight.zero_()
            self.mix.weight[:, :channels, 0, 0] = torch.eye(channels)
            self.mix.bias.zero_()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        tiled = cond[:, :, None, None].to(x.dtype).expand(-1, -1, *x.shape[-2:])
        return torch.relu(self.mix(torch.cat([x, tiled], dim=1)))


class ConditionedStack(nn.Module):
    """One conditioning layer per conditioned block, keyed ``"down"`` / ``"up"`` and the block index.

    Args:
        kind: ``"film"``, ``"concat"`` or ``"none"`` (no layers: the hook returns ``x`` unchanged).
        down: channels of the encoder blocks, finest first.
        up: channels of the decoder blocks, in decoding order.
        dim: width ``D`` of the condition vector.

    Call :meth:`bind` with ``c`` ``(N, D)`` to get the ``hook(stage, index, x) -> x`` of one forward pass.
    """

    def __init__(self, kind: str, down: Sequence[int], up: Sequence[int], dim: int) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"conditioning must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind = kind
        layer = {"film": FiLM, "concat": ConcatCondition}.get(kind)
        self.down = nn.ModuleList(layer(c, dim) for c in down) if layer else nn.ModuleList()
        self.up = nn.ModuleList(layer(c, dim) for c in up) if layer else nn.ModuleList()

    def bind(self, cond: torch.Tensor | None):  # noqa: ANN201 - a closure
        """The hook for one batch of condition vectors ``(N, D)`` (None or kind "none": identity)."""

        def hook(stage: str, index: int, x: torch.Tensor) -> torch.Tensor:
            layers = self.down if stage == "down" else self.up
            if cond is None or not len(layers):
                return x
            return layers[index](x, cond)

        return hook
