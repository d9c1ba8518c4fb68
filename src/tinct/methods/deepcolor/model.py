"""The colorization network of Cheng et al. Sec. III-A (eq. 1-2) and its convolutional inference.

Training sees an MLP on feature rows: ``n_in -> n_in/2 -> n_in/2 -> n_in/2 -> 2`` with ReLU,
outputs (U, V) of YUV, least squares (eq. 1). Inference never materialises the ``N x n_in``
feature matrix (:func:`first_layer_maps`, :func:`apply_rest`): the first layer's patch columns
become one 7x7 convolution of the gray image, its DAISY columns a dilated 3x3 convolution (4 taps) of the 8
orientation maps, its semantic columns a 1x1 convolution of the class maps; the later layers
are 1x1 convolutions, computed as matrix products on ``(C, H*W)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .features import N_ORIENT, N_RING, PATCH, FeatureConfig, n_features

# DAISY ring offset k (right, down, left, up) -> tap of a 3x3 kernel dilated by the radius
_RING_TAPS = [(1, 2), (2, 1), (1, 0), (0, 1)]


@dataclass
class MLPConfig:
    """Layer widths; ``hidden = 0`` means the paper's rule, half the input width."""

    n_in: int
    hidden: int = 0
    n_hidden_layers: int = 3

    @property
    def width(self) -> int:
        return self.hidden or max(2, self.n_in // 2)


class ColorMLP(nn.Module):
    """Feature rows ``(N, n_in)`` -> ``(N, 2)`` (U in about ±0.436, V in about ±0.615)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.n_in] + [config.width] * config.n_hidden_layers
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.out = nn.Linear(widths[-1], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


def first_layer_maps(
    mlp: ColorMLP,
    gray: torch.Tensor,
    orient: torch.Tensor | None,
    semantic: torch.Tensor | None,
    fcfg: FeatureConfig,
) -> torch.Tensor:
    """Pre-activation of layer 1 at every pixel, by convolution.

    Args:
        gray: ``(H, W)`` float32 luma in [0, 1].
        orient: ``(8, H, W)`` orientation maps (:func:`features.orientation_maps`) or None.
        semantic: ``(K, H, W)`` class maps or None.
        Borders replicate the edge pixel (as :func:`features.patch_at` / :func:`features.daisy_at`).

    Returns:
        ``(C1, H, W)`` float32.
    """
    weight, bias = mlp.hidden[0].weight, mlp.hidden[0].bias
    c1 = weight.shape[0]
    col = 0
    acc = None
    if fcfg.use_patch:
        k = weight[:, : PATCH * PATCH].reshape(c1, 1, PATCH, PATCH)
        acc = F.conv2d(F.pad((gray - 0.5)[None, None], (3, 3, 3, 3), mode="replicate"), k)[0]
        col = PATCH * PATCH
    if fcfg.use_daisy:
        if orient is None:
            raise ValueError("first_layer_maps: orientation maps required")
        w_d = weight[:, col : col + N_ORIENT * N_RING]
        k = weight.new_zeros(c1, N_ORIENT, 3, 3)
        for ring, (ty, tx) in enumerate(_RING_TAPS):
            k[:, :, ty, tx] = w_d[:, ring * N_ORIENT : (ring + 1) * N_ORIENT]
        r = fcfg.daisy_radius
        d = F.conv2d(F.pad(orient[None], (r, r, r, r), mode="replicate"), k, dilation=r)[0]
        acc = d if acc is None else acc + d
        col += N_ORIENT * N_RING
    if fcfg.use_semantic:
        if semantic is None:
            raise ValueError("first_layer_maps: semantic maps required")
        w_s = weight[:, col:]
        s = (w_s @ semantic.reshape(semantic.shape[0], -1)).reshape(c1, *semantic.shape[-2:])
        acc = s if acc is None else acc + s
    if acc is None:
        raise ValueError("first_layer_maps: all feature groups are disabled")
    return acc + bias[:, None, None]


def apply_rest(mlp: ColorMLP, h1: torch.Tensor) -> torch.Tensor:
    """ReLU then layers 2.. as 1x1 convolutions (matrix products): ``(C1, H, W)`` -> ``(2, H, W)``."""
    c, h, w = h1.shape
    x = F.relu(h1.reshape(c, h * w))
    for layer in mlp.hidden[1:]:
        x = F.relu(torch.addmm(layer.bias[:, None], layer.weight, x))
    x = torch.addmm(mlp.out.bias[:, None], mlp.out.weight, x)
    return x.reshape(2, h, w)


def mlp_tensors(mlp: ColorMLP, prefix: str) -> dict[str, torch.Tensor]:
    """Weights with a name prefix (for one safetensors file holding several nets)."""
    return {f"{prefix}.{k}": v.detach().clone() for k, v in mlp.state_dict().items()}


def mlp_from_tensors(tensors: dict[str, torch.Tensor], prefix: str, config: MLPConfig) -> ColorMLP:
    """Inverse of :func:`mlp_tensors`."""
    mlp = ColorMLP(config)
    mlp.load_state_dict({k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
    return mlp.eval()


def make_mlp(fcfg: FeatureConfig, n_classes: int, hidden: int = 0) -> ColorMLP:
    """An MLP sized for the enabled features (paper rule: hidden = half the input)."""
    return ColorMLP(MLPConfig(n_in=n_features(fcfg, n_classes), hidden=hidden))


def config_dict(config: MLPConfig) -> dict:
    return asdict(config)
