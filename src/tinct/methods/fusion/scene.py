"""The scene-parser histogram: an optional extra input of the fusion network's global branch.

The survey's global branch is a pre-trained image classifier (Inception-ResNet-v2), which we
cannot download. What we have instead is our own scene parser (deepcolor's, trained on Stanford
Background's 8 classes from grayscale): its mean class probabilities over the image, ``(N, 8)``
summing to 1, tell the global branch how much sky, tree, grass, water... the photo holds. The
parser is frozen; ``FusionModelConfig(scene_classes=8)`` switches it on (issue 21's ablation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct.errors import TinctError
from tinct.methods.deepcolor.scene_parser import ParserConfig, SceneParser, parser_from_tensors
from tinct.weights import load_weights, resolve

PARSER_SIZE = 160  # the parser was trained at about 160 x 120


class SceneHistogram:
    """``__call__(luma (N, 1, H, W) in [0, 1]) -> (N, K)`` mean class probabilities of the frozen
    parser of deepcolor's ``weights`` variant, run at :data:`PARSER_SIZE` pixels on the long side."""

    def __init__(self, weights: str = "default") -> None:
        tensors, card = load_weights(resolve("deepcolor", weights))
        config = card.section("parser", ParserConfig)
        if config.in_channels != 1:
            raise TinctError(f"deepcolor {weights!r}: its scene parser reads colour, not luma")
        self.parser: SceneParser = parser_from_tensors(tensors, config).requires_grad_(False)
        self.classes = config.num_classes

    @torch.no_grad()
    def __call__(self, luma: torch.Tensor) -> torch.Tensor:
        scale = min(1.0, PARSER_SIZE / max(luma.shape[-2:]))
        x = luma.float()
        if scale < 1.0:
            x = F.interpolate(x, scale_factor=scale, mode="area")
        return torch.softmax(self.parser.eval()(x), dim=1).mean(dim=(2, 3))
