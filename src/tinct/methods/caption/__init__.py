"""Colorization steered by a caption (survey seed 002: Manjunatha et al. 2018, "Learning to Color
from Language"; FiLM vs CONCAT). See ``docs/methods/caption.md``.

``colorize(gray, caption="a red bus in front of a white house")``: the caption is tokenized over the
weights' vocabulary (other words become ``<unk>`` and are named in one :class:`TinctWarning`),
encoded, and conditions every block of the image network (:mod:`.model`); the ab-bin logits are
decoded by the annealed mean (fusion's :class:`~tinct.methods.fusion.Decoding`), the chroma is
upsampled guided by the full-resolution luma, and the luma is kept exactly. **Without a caption**
the network gets the empty caption (the ``<none>`` token), which training shows it for 15 % of the
crops: it then colours automatically, like the fusion network it is built on. Weights trained with
``conditioning=none`` ignore the caption (a warning says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_uv
from tinct.data.captions import tokenize
from tinct.errors import TinctError, TinctWarning
from tinct.filters import upsample_guided
from tinct.methods.fusion import (
    Decoding,
    card_working_size,
    check_working_size,
    working_gray,
)
from tinct.nn.unet import pad_to_multiple
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import DEFAULT_VARIANT, load_weights, looks_like_path, resolve

from .model import CaptionModelConfig, CaptionNet, batch_tokens

VARIANT_OF = {"film": DEFAULT_VARIANT, "concat": "concat", "attend": "attend", "none": "none"}
KNOWN_NOUNS = ("it knows scene regions only: sky, trees, road, grass, water, building, mountain, foreground; "
               "a colour word whose noun is unknown may colour the whole picture")
"""Bundled weight variant of each conditioning kind."""


@dataclass(frozen=True)
class CaptionOptions:
    """Options of :class:`CaptionColorizer`."""

    weights: str = option("default", "bundled variant (default = FiLM, concat, none) or a .safetensors "
                          "path from `tinct train caption`")
    conditioning: Literal["film", "concat", "attend", "none"] | None = option(
        None, "which bundled model: film (the default variant), concat, attend (per-word attention; "
        "not bundled) or none (no caption: the FCNN baseline); with a weights path it must match the "
        "file's")
    work_size: int | None = option(None, "long side (pixels) at which chroma is predicted; luma stays "
                                   "full size; default: the card's, else 320")
    short_side: int | None = option(None, "short side (pixels) at which chroma is predicted instead (as "
                                    "fusion's); default: the card's unless work_size is given")
    temperature: float | None = option(None, "annealed-mean temperature (lower: more saturated); default: "
                                       "the card's")
    prior_correction: float | None = option(None, "share in [0, 1] of the class rebalancing undone before "
                                            "decoding; default: the card's")
    mix: float | None = option(None, "share of the classification head in [0, 1] (the rest: regression); "
                               "default: the card's")
    saturation: float = option(1.0, "chroma scale (kept within the RGB gamut; 0 = gray)")
    guidance: float | None = option(None, "classifier-free guidance of a caption: the logits are pushed "
                                    "from the no-caption prediction through the captioned one by this "
                                    "factor (1: off; > 1: the words count more; two network passes); "
                                    "default: the card's, else 1")

    def __post_init__(self) -> None:
        check_working_size("caption", self.work_size, self.short_side)
        if self.temperature is not None and not 0.01 <= self.temperature <= 10:
            raise OptionError(f"caption: temperature must be in [0.01, 10], got {self.temperature}")
        for name in ("prior_correction", "mix"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise OptionError(f"caption: {name} must be in [0, 1], got {value}")
        if self.guidance is not None and not 0.0 <= self.guidance <= 10.0:
            raise OptionError(f"caption: guidance must be in [0, 10], got {self.guidance}")
        if not 0.0 <= self.saturation <= 4.0:
            raise OptionError(f"caption: saturation must be in [0, 4], got {self.saturation}")


def load_network(path: str) -> tuple[CaptionNet, dict[str, torch.Tensor], dict, tuple[str, ...]]:
    """The network (float32, eval), its bins (``centers`` ``(Q, 2)``, ``weights`` ``(Q,)``), the
    card's inference defaults and the vocabulary it was trained with."""
    tensors, card = load_weights(path)
    try:
        model = card.section("model", CaptionModelConfig, path=path)
        net = CaptionNet(model)
        net.load_state_dict({k[4:]: v.float() for k, v in tensors.items() if k.startswith("net.")})
        bins = {"centers": tensors["bins.centers"].float(), "weights": tensors["bins.weights"].float()}
        vocabulary = tuple(card.extra["vocabulary"])
    except (KeyError, RuntimeError) as exc:
        raise TinctError(f"{path} is not caption weights ({str(exc).splitlines()[0]})") from None
    if len(vocabulary) != model.vocab_size:
        raise TinctError(f"{path}: its card lists {len(vocabulary)} words for {model.vocab_size} embeddings")
    return net.eval(), bins, dict(card.extra.get("inference", {})), vocabulary


def _weights_name(o: CaptionOptions) -> str:
    if o.conditioning is None or looks_like_path(o.weights):
        return o.weights
    if o.weights not in (DEFAULT_VARIANT, VARIANT_OF[o.conditioning]):
        raise OptionError(f"caption: conditioning={o.conditioning} picks the bundled weights "
                          f"'{VARIANT_OF[o.conditioning]}'; do not also give weights={o.weights}")
    return VARIANT_OF[o.conditioning]


@register(summary="caption-steered: fusion's U-Net conditioned on a caption (FiLM or CONCAT at every "
                  "block), ab-bin classification",
          paper="survey seed 002 (Manjunatha et al. 2018, Learning to Color from Language) on the fusion "
                "trunk",
          options=CaptionOptions,
          weights={"default": "FiLM conditioning",
                   "concat": "CONCAT conditioning",
                   "none": "no caption, the FCNN baseline"},
          train_config="tinct.methods.caption.training:CaptionTrainConfig",
          trainer="tinct.methods.caption.training:run")
class CaptionColorizer(Colorizer):
    """Colorization conditioned on an optional caption; keeps the luma exactly."""

    name = "caption"
    accepts = frozenset({"caption"})

    def __init__(self, options: CaptionOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        o = self.options
        self.path = resolve(self.name, _weights_name(o))
        self.net, self.bins, inference, self.vocabulary = load_network(str(self.path))
        kind = self.net.config.conditioning
        if o.conditioning is not None and o.conditioning != kind:
            raise OptionError(f"caption: {self.path} was trained with conditioning={kind}, not "
                              f"{o.conditioning}")
        self.decoding = Decoding.from_card(inference, o)
        with_caption = {**inference, **inference.get("with_caption", {})}
        self.caption_decoding = Decoding.from_card(with_caption, o)
        self.guidance = float(o.guidance if o.guidance is not None else with_caption.get("guidance", 1.0))
        self.work_size, self.short_side = card_working_size(inference, o.work_size, o.short_side)

    def decoding_for(self, caption: str | None) -> Decoding:
        """The decoding of an empty caption (automatic colours: the card's ``inference``) or of a
        caption (its ``inference.with_caption`` overrides, e.g. less prior correction, so that a
        named rare colour is not pulled back toward the common ones); options override both."""
        return self.caption_decoding if caption else self.decoding

    def tokens(self, caption: str | None, *, with_empty: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens (B, T), lengths (B,))`` of ``caption`` (None or "": the empty caption; B = 1), or of
        the caption and the empty one (``with_empty``, B = 2); words outside the vocabulary are named
        in one :class:`TinctWarning`."""
        ids, unknown = tokenize(caption or "", self.vocabulary)
        if unknown:
            warnings.warn(TinctWarning(f"caption: {len(unknown)} word(s) outside the model's vocabulary "
                                       f"are ignored: {', '.join(unknown)} ({KNOWN_NOUNS})"), stacklevel=3)
        if caption and self.net.text is None:
            warnings.warn(TinctWarning(f"caption: these weights ({self.path.name}) were trained without "
                                       "captions (conditioning=none); the caption is ignored"), stacklevel=3)
        return batch_tokens([ids, tokenize("", self.vocabulary)[0]] if with_empty else [ids])

    @torch.no_grad()
    def network_outputs(self, gray: np.ndarray, caption: str | None, *, guidance: float | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Bin logits ``(1, Q, h', w')`` and regression ab ``(1, 2, h', w')`` at half the padded size of
        ``gray`` ``(h, w)`` in [0, 1] (already at the working size). With a caption and a ``guidance``
        factor s other than 1 (default: the option's, else the card's), classifier-free guidance (Ho &
        Salimans 2022): ``empty + s (captioned - empty)`` for both heads, from one batch of two."""
        x = torch.from_numpy(np.ascontiguousarray(gray, np.float32))[None, None]
        x, _ = pad_to_multiple(x, self.net.multiple)
        s = self.guidance if guidance is None else guidance
        guided = bool(caption) and self.net.text is not None and s != 1.0
        tokens, lengths = self.tokens(caption, with_empty=guided)
        logits, ab_reg = self.net(x.expand(len(tokens), -1, -1, -1), tokens, lengths)
        if not guided:
            return logits, ab_reg
        return logits[1:] + s * (logits[:1] - logits[1:]), ab_reg[1:] + s * (ab_reg[:1] - ab_reg[1:])

    def predict_ab(self, gray: np.ndarray, caption: str | None) -> np.ndarray:
        """Lab ab ``(h, w, 2)`` of ``gray`` ``(h, w)`` (at the working size), decoded by the annealed mean."""
        h, w = gray.shape
        logits, ab_reg = self.network_outputs(gray, caption)
        ab = self.decoding_for(caption).ab(logits, ab_reg, self.bins["centers"], self.bins["weights"])
        size = (ab.shape[-2] * 2, ab.shape[-1] * 2)
        ab = torch.nn.functional.interpolate(ab, size=size, mode="bilinear", align_corners=False)
        return ab[0, :, :h, :w].permute(1, 2, 0).numpy()

    def working_gray(self, image: np.ndarray) -> np.ndarray:
        """``image`` ``(H, W)`` reduced to the working size (fusion's :func:`working_gray`), or itself."""
        return working_gray(image, self.work_size, self.short_side)

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        g = self.working_gray(image)
        ab = self.predict_ab(g, inputs.caption)
        lightness = rgb_to_lab(gray_to_rgb(np.clip(g, 0, 1)))[..., :1]
        uv = rgb_to_uv(lab_to_rgb(np.concatenate([lightness, ab], axis=-1), clip=False)).astype(np.float32)
        uv *= np.float32(self.options.saturation)  # compose_luma_chroma keeps it within the gamut
        return compose_luma_chroma(image, upsample_guided(uv, image))
