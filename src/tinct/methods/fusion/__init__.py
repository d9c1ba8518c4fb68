"""Global-feature fusion CNN (seed 002's CNN family: Deep Koalarization / Iizuka et al.): automatic
colorization with a classification and a regression head. See ``docs/methods/fusion.md``.

Inference: the luma is reduced to the card's working size (``work_size`` pixels on its long side,
or ``short_side`` on its short side), the network predicts ab at half that resolution, the
classification head is decoded (:class:`Decoding`: the share ``prior_correction`` of the class
rebalancing undone, the annealed mean at ``temperature``, times the card's ``gain``) and mixed
with the regression head (``mix`` = the classification's share), scaled by ``saturation``, turned
into YUV chroma at the working resolution, upsampled to full size guided by the full-resolution
luma (a guided filter, in row strips) and composed with the luma, which is kept exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_uv
from tinct.errors import TinctError
from tinct.filters import upsample_guided
from tinct.nn.unet import pad_to_multiple
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import load_weights, resolve

from .bins import annealed_mean, confidence
from .model import FusionModelConfig, FusionNet
from .scene import SceneHistogram

DEFAULT_WORK_SIZE = 320  # long side (px) of the network's input when the card names none
MAX_LONG_SIDE = 1024  # cap on the long side when the working size is set by the short side


@dataclass(frozen=True)
class FusionOptions:
    """Options of :class:`FusionColorizer`."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train fusion`")
    work_size: int | None = option(None, "long side (pixels) at which chroma is predicted; luma stays "
                                   "full size; default: the card's (tuned on photos/val with its "
                                   "decoding), else 320")
    short_side: int | None = option(None, "short side (pixels) at which chroma is predicted instead (the "
                                    "network's training crops are square; the long side is capped at "
                                    "1024); default: the card's unless work_size is given")
    temperature: float | None = option(None, "annealed-mean temperature of the classification head "
                                       "(lower: more saturated); default: the card's, tuned on photos/val")
    prior_correction: float | None = option(None, "share in [0, 1] of the class rebalancing undone before "
                                            "decoding (0: vivid, rare colours favoured; 1: the data's "
                                            "posterior); default: the card's")
    mix: float | None = option(None, "share of the classification head in [0, 1] (the rest: regression); "
                               "default: the card's")
    gain: float | None = option(None, "factor on the decoded ab, applied before `saturation` (the card's "
                                "is tuned with its decoding; `-O mix=0 -O gain=1` is the plain regression "
                                "head); default: the card's")
    focus: float | None = option(None, "how much the card's gain follows the network's confidence per "
                                 "pixel (0: the same gain everywhere; 1, 2: less gain where the colour "
                                 "distribution is spread); default: the card's")
    saturation: float = option(1.0, "chroma scale (kept within the RGB gamut; 0 = gray)")

    def __post_init__(self) -> None:
        check_working_size("fusion", self.work_size, self.short_side)
        if self.gain is not None and not 0.0 <= self.gain <= 8.0:
            raise OptionError(f"fusion: gain must be in [0, 8], got {self.gain}")
        if self.focus is not None and not 0.0 <= self.focus <= 4.0:
            raise OptionError(f"fusion: focus must be in [0, 4], got {self.focus}")
        if self.temperature is not None and not 0.01 <= self.temperature <= 10:
            raise OptionError(f"fusion: temperature must be in [0.01, 10], got {self.temperature}")
        if self.prior_correction is not None and not 0.0 <= self.prior_correction <= 1.0:
            raise OptionError(f"fusion: prior_correction must be in [0, 1], got {self.prior_correction}")
        if self.mix is not None and not 0.0 <= self.mix <= 1.0:
            raise OptionError(f"fusion: mix must be in [0, 1], got {self.mix}")
        if not 0.0 <= self.saturation <= 4.0:
            raise OptionError(f"fusion: saturation must be in [0, 4], got {self.saturation}")


def working_scale(shape: tuple[int, ...], work_size: int, short_side: int | None) -> float:
    """Factor (≤ 1) that brings an ``(H, W)`` image to the working resolution: ``short_side`` on
    its short side (the long side at most :data:`MAX_LONG_SIDE`) if set, else ``work_size`` on its
    long side."""
    short, long = min(shape[:2]), max(shape[:2])
    if short_side:
        return min(1.0, short_side / short, MAX_LONG_SIDE / long)
    return min(1.0, work_size / long)


def working_gray(image: np.ndarray, work_size: int, short_side: int | None) -> np.ndarray:
    """``image`` ``(H, W)`` reduced to the working size (area; :func:`working_scale`), or itself."""
    scale = working_scale(image.shape, work_size, short_side)
    if scale == 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def check_working_size(method: str, work_size: int | None, short_side: int | None) -> None:
    """:class:`OptionError` unless each given size is at least 32 px and at most one is given."""
    for name, value in (("work_size", work_size), ("short_side", short_side)):
        if value is not None and value < 32:
            raise OptionError(f"{method}: {name} must be at least 32, got {value}")
    if work_size is not None and short_side is not None:
        raise OptionError(f"{method}: give work_size (long side) or short_side, not both")


def card_working_size(inference: dict, work_size: int | None, short_side: int | None
                      ) -> tuple[int, int | None]:
    """``(work_size, short_side)`` from the options, else the card's ``inference``: an explicit
    ``work_size`` option switches the card's ``short_side`` off."""
    short = short_side or (None if work_size else inference.get("short_side"))
    return int(work_size or inference.get("work_size", DEFAULT_WORK_SIZE)), int(short) if short else None


@dataclass(frozen=True)
class Decoding:
    """How bin logits and the regression become ab (see :func:`Decoding.ab`); the card's
    ``extra.inference`` holds the values tuned on photos/val, options override them."""

    temperature: float = 0.38
    prior_correction: float = 0.0
    mix: float = 1.0
    gain: float = 1.0
    focus: float = 0.0

    @classmethod
    def from_card(cls, inference: dict, options: object) -> Decoding:
        """The card's values (missing keys: the class defaults), then the non-``None`` options."""
        fields = {k: float(v) for k, v in inference.items() if k in cls.__dataclass_fields__}
        over = {k: getattr(options, k) for k in ("temperature", "prior_correction", "mix", "gain", "focus")
                if getattr(options, k, None) is not None}
        return replace(cls(**fields), **over)

    def ab(self, logits: torch.Tensor, ab_reg: torch.Tensor, centers: torch.Tensor,
           class_weights: torch.Tensor) -> torch.Tensor:
        """``(N, 2, h, w)`` ab from logits ``(N, Q, h, w)`` and the regression ``(N, 2, h, w)``.

        The gain is ``1 + (gain - 1) * κ ** focus`` per pixel, κ in [0, 1] the confidence (1 - the
        normalized entropy) of the corrected posterior at T = 1: with ``focus`` 0 the same gain
        everywhere; above, colour is amplified where the network is sure and not where its
        distribution is spread (whose annealed mean is an average of rival hues)."""
        if self.mix <= 0.0:
            return self.gain * ab_reg
        corrected = logits.float()  # the prior correction once, for the mean and the confidence
        if self.prior_correction:
            corrected = corrected - self.prior_correction * torch.log(class_weights.float()).view(1, -1, 1, 1)
        ab = self.mix * annealed_mean(corrected, centers, self.temperature) + (1.0 - self.mix) * ab_reg
        if not self.focus or self.gain == 1.0:
            return self.gain * ab
        return (1.0 + (self.gain - 1.0) * confidence(corrected) ** self.focus) * ab


def load_network(path: str) -> tuple[FusionNet, dict[str, torch.Tensor], dict]:
    """The network (float32, eval), its bins (``centers`` ``(Q, 2)``, ``weights`` ``(Q,)``: the
    class rebalancing it was trained with) and the card's inference defaults."""
    tensors, card = load_weights(path)
    try:
        model = card.section("model", FusionModelConfig, path=path)
        net = FusionNet(model)
        net.load_state_dict({k[4:]: v.float() for k, v in tensors.items() if k.startswith("net.")})
        bins = {"centers": tensors["bins.centers"].float(), "weights": tensors["bins.weights"].float()}
    except (KeyError, RuntimeError) as exc:
        raise TinctError(f"{path} is not fusion weights ({str(exc).splitlines()[0]})") from None
    return net.eval(), bins, dict(card.extra.get("inference", {}))


@register(summary="automatic: U-Net on the luma fused with a global image vector; ab-bin classification "
                  "+ regression heads",
          paper="survey seed 002 (Deep Koalarization; Iizuka et al. 2016) with Zhang et al. 2016's ab bins",
          options=FusionOptions,
          weights={"default": "photos/train + photos/extra_train + Stanford Background train, both heads"},
          train_config="tinct.methods.fusion.training:FusionTrainConfig",
          trainer="tinct.methods.fusion.training:run")
class FusionColorizer(Colorizer):
    """Automatic colorization by the fusion network; keeps the luma exactly."""

    name = "fusion"

    def __init__(self, options: FusionOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        o = self.options
        self.path = resolve(self.name, o.weights)
        self.net, self.bins, inference = load_network(str(self.path))
        self.decoding = Decoding.from_card(inference, o)
        self.work_size, self.short_side = card_working_size(inference, o.work_size, o.short_side)
        self.scene = SceneHistogram() if self.net.config.scene_classes else None

    @torch.no_grad()
    def predict_ab(self, gray: np.ndarray) -> np.ndarray:
        """Lab ab ``(h, w, 2)`` at the working resolution of ``gray`` ``(h, w)`` (already reduced)."""
        x = torch.from_numpy(np.ascontiguousarray(gray))[None, None]
        x, (h, w) = pad_to_multiple(x, self.net.multiple)
        scene = self.scene(x[..., :h, :w]) if self.scene is not None else None
        logits, ab_reg = self.net(x, scene)
        ab = self.decoding.ab(logits, ab_reg, self.bins["centers"], self.bins["weights"])
        ab = torch.nn.functional.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return ab[0, :, :h, :w].permute(1, 2, 0).numpy()

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        g = working_gray(image, self.work_size, self.short_side)
        ab = self.predict_ab(g)
        lightness = rgb_to_lab(gray_to_rgb(np.clip(g, 0, 1)))[..., :1]
        uv = rgb_to_uv(lab_to_rgb(np.concatenate([lightness, ab], axis=-1), clip=False)).astype(np.float32)
        uv *= np.float32(self.options.saturation)  # compose_luma_chroma keeps it within the gamut
        return compose_luma_chroma(image, upsample_guided(uv, image))
