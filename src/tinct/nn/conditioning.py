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

Both map ``(N, C, H, W), (N, D) -> (N, C, H, W)``. A third kind is ours, not the paper's:

- :class:`WordAttention` (``attend``): FiLM whose scale and shift differ per pixel. Every pixel
  attends over the caption's **word** states ``(N, T, D)`` (a 1x1-conv query against linear keys,
  plus a learned "no word" key whose value is zero) and takes the attention-weighted mean of
  per-word ``(Δγ, β)``. A word can then change the pixels it belongs to and leave the rest alone,
  which a single per-channel FiLM cannot (the same scale and shift at every pixel). Identity at init.

:class:`ConditionedStack` holds one layer per conditioned block and is the ``hook`` that
:meth:`tinct.nn.unet.UNet.encode` / ``decode`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

KINDS = ("film", "concat", "attend", "none")


class WordStates(NamedTuple):
    """A caption as words: ``states`` ``(N, T, D)`` and ``mask`` ``(N, T)`` bool (True = a word)."""

    states: torch.Tensor
    mask: torch.Tensor


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


class WordAttention(nn.Module):
    """Per-pixel FiLM from attention over word states (``attend``; see the module).

    ``forward(x (N, C, H, W), words: WordStates) -> (N, C, H, W)``: ``x * (1 + Δγ) + β`` with
    ``(Δγ, β)`` ``(N, 2C, H, W)`` = softmax over the words and one "no word" slot of
    ``q(x) · k(word) / sqrt(key_dim)``, times the words' values (the slot's value is zero). The
    value projection starts at zero, so the layer starts as the identity.
    """

    def __init__(self, channels: int, dim: int, key_dim: int = 32) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, key_dim, 1)
        self.key = nn.Linear(dim, key_dim)
        self.null_key = nn.Parameter(torch.zeros(key_dim))
        self.value = nn.Linear(dim, 2 * channels)
        nn.init.zeros_(self.value.weight)
        nn.init.zeros_(self.value.bias)
        self.scale = key_dim ** -0.5

    def attention(self, x: torch.Tensor, words: WordStates) -> torch.Tensor:
        """Weights ``(N, H*W, T + 1)`` of every pixel over the words and the last, "no word", slot."""
        n = x.shape[0]
        q = self.query(x).flatten(2).transpose(1, 2).float()  # (N, HW, K)
        k = torch.cat([self.key(words.states.float()), self.null_key.expand(n, 1, -1)], dim=1)
        mask = torch.cat([words.mask, words.mask.new_ones(n, 1)], dim=1)
        scores = torch.einsum("npk,ntk->npt", q, k) * self.scale
        return scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(dim=-1)

    def forward(self, x: torch.Tensor, words: WordStates) -> torch.Tensor:
        weights = self.attention(x, words)[..., :-1]  # the "no word" slot's value is zero
        v = self.value(words.states.float())  # (N, T, 2C)
        film = torch.einsum("npt,ntc->ncp", weights, v).reshape(x.shape[0], -1, *x.shape[-2:])
        gamma, beta = film.to(x.dtype).chunk(2, dim=1)
        return x * (1.0 + gamma) + beta


class ConditionedStack(nn.Module):
    """One conditioning layer per conditioned block, keyed ``"down"`` / ``"up"`` and the block index.

    Args:
        kind: ``"film"``, ``"concat"``, ``"attend"`` (its condition is a :class:`WordStates`) or
            ``"none"`` (no layers: the hook returns ``x`` unchanged).
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
        layer = {"film": FiLM, "concat": ConcatCondition, "attend": WordAttention}.get(kind)
        self.down = nn.ModuleList(layer(c, dim) for c in down) if layer else nn.ModuleList()
        self.up = nn.ModuleList(layer(c, dim) for c in up) if layer else nn.ModuleList()

    def bind(self, cond: torch.Tensor | WordStates | None):  # noqa: ANN201 - a closure
        """The hook for one batch of conditions: vectors ``(N, D)``, or :class:`WordStates` for
        ``attend`` (None or kind "none": identity)."""

        def hook(stage: str, index: int, x: torch.Tensor) -> torch.Tensor:
            layers = self.down if stage == "down" else self.up
            if cond is None or not len(layers):
                return x
            return layers[index](x, cond)

        return hook
