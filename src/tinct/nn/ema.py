"""An exponential moving average of a network's weights (Polyak averaging; as in Karras et al.'s
progressive GANs and most GAN codebases since): the averaged generator is smoother than the last
iterate, whose colours swing with the discriminator from step to step.

``EMA(net, decay)`` holds a frozen copy of ``net`` (``.average``) and ``update(net)`` moves it toward
``net``: ``avg += (1 - d) (net - avg)`` with ``d = min(decay, (1 + n) / (10 + n))`` after ``n``
updates (the warm-up keeps the first steps from being dominated by the random initialisation).
Buffers are copied. It is an ``nn.Module``, so a trainer lists it among its ``modules`` and the
checkpoint saves and restores it with the update count.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """A moving average of ``model``'s parameters (see the module); ``decay`` in [0, 1)."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.average = copy.deepcopy(model).requires_grad_(False).eval()
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    def current_decay(self) -> float:
        """The decay the next update uses (warm-up: small while few updates were made)."""
        n = int(self.updates)
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average toward ``model`` (same architecture) by one step."""
        d = self.current_decay()
        for avg, cur in zip(self.average.parameters(), model.parameters(), strict=True):
            avg.lerp_(cur.detach().to(avg.dtype), 1.0 - d)
        for avg, cur in zip(self.average.buffers(), model.buffers(), strict=True):
            avg.copy_(cur)
        self.updates += 1

    def train(self, mode: bool = True) -> EMA:
        """The average always stays in eval mode."""
        super().train(mode)
        self.average.eval()
        return self
