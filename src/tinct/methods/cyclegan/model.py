"""CycleGAN for colorization (Zhu et al. 2017), the baseline of the pseudo-cyclic network.

Two generators, G: gray (B, 1, H, W) -> RGB (B, 3, H, W) and F: RGB -> gray, both
:class:`tinct.nn.gan.ResnetGenerator` (values in [0, 1], H and W multiples of 4), and two
PatchGAN discriminators (colour, gray). Sized so that each generator has about as many
parameters as the SpyncoGAN generator: the pair has about twice as many, which is the point
the pseudo-cyclic paper makes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from tinct.nn.gan import ResnetGenerator


@dataclass
class CycleGANModelConfig:
    """Generator sizes (both generators)."""

    width: int = 32
    n_res_blocks: int = 2

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def make_generators(config: CycleGANModelConfig) -> tuple[nn.Module, nn.Module]:
    """(G gray->RGB, F RGB->gray)."""
    return (ResnetGenerator(1, 3, config.width, config.n_res_blocks),
            ResnetGenerator(3, 1, config.width, config.n_res_blocks))
