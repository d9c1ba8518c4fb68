"""``tcvc``: temporally coherent video colorization (survey seed 002, Thasarathan et al.), scaled to the CPU.

A conditional GAN's generator colours each frame from its luma **and the previous colour frame**
(:mod:`tinct.methods.tcvc.model`). At inference the previous frame is the previous *output*; the
first frame gets a blank previous frame (or the user's ``--keyframe``), and so does the first frame
after a scene cut (detected as in ``video-blend``: more than ``cut_occluded`` of the frame occluded,
or luma histograms further apart than ``cut_histogram``). The network runs at a working size
(``work_size`` px on the short side); its chroma is upsampled and composed with the frame's luma
exactly (:func:`tinct.color.compose_luma_chroma`). ``warp=true`` (not in the paper) feeds the
previous output warped onto the current frame by DIS flow, with occluded pixels blank. A single
image is coloured from a blank previous frame. ``saturation`` scales the chroma of what is written
out, never of the frame fed back (a gain > 1 would compound). See ``docs/methods/video.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from tinct.color import compose_luma_chroma, rgb_to_uv
from tinct.errors import TinctError
from tinct.flow import motion, warp
from tinct.nn.unet import TranslatorConfig
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, keyframe_start, register
from tinct.scene_cut import SceneCutOptions
from tinct.weights import load_weights, resolve

from .model import blank_like, build_generator, predict_uv

NAME = "tcvc"


@dataclass(frozen=True)
class TcvcOptions(SceneCutOptions):
    """Options of :class:`Tcvc`."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train tcvc`")
    work_size: int = option(224, "short side (px) at which the network runs; chroma is upsampled, the "
                            "luma kept at full size")
    warp: bool = option(False, "feed the previous output warped onto the current frame by DIS flow "
                        "(occluded pixels blank); the paper feeds it as it is")
    saturation: float = option(1.0, "chroma scale of the output frames (not of the frame fed back)")

    def __post_init__(self) -> None:
        if self.work_size < 32:
            raise OptionError(f"{NAME}: work_size must be at least 32, got {self.work_size}")
        self.check_cut_options(NAME)
        if not 0.0 <= self.saturation <= 4.0:
            raise OptionError(f"{NAME}: saturation must be in [0, 4], got {self.saturation}")


@dataclass
class _Previous:
    """The stream's memory: the previous output at the working size (RGB, its luma)."""

    rgb: np.ndarray
    luma: np.ndarray


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` = (width, height): area when shrinking, bilinear otherwise."""
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


@register(summary="video: a GAN generator colours each frame from its luma and the previous output "
                  "(temporally coherent colorization)",
          paper="survey seed 002: Thasarathan, Nazeri & Ebrahimi, Automatic Temporally Coherent Video "
                "Colorization",
          options=TcvcOptions,
          weights={"default": "DAVIS blackswan, bmx-trees, car-roundabout, cows + pseudo-videos of "
                              "photos/extra_train"},
          train_config="tinct.methods.tcvc.training:TcvcTrainConfig",
          trainer="tinct.methods.tcvc.training:run")
class Tcvc(Colorizer):
    """Frame t's chroma from its luma and output t-1; a single image from a blank previous frame."""

    name = NAME
    temporal = True

    def __init__(self, options: TcvcOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        self.path = resolve(NAME, self.options.weights)
        tensors, card = load_weights(self.path)
        if card.method and card.method != NAME:
            raise TinctError(f"{self.path} is not {NAME} weights (its card says {card.method}); "
                             f"use --method {card.method} or weights from `tinct train {NAME}`")
        try:
            cfg = card.section("model", TranslatorConfig, path=str(self.path))
            self.net = build_generator(cfg)
            self.net.load_state_dict({k[4:]: v.float() for k, v in tensors.items() if k.startswith("net.")})
        except (KeyError, RuntimeError, TypeError, TinctError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise TinctError(f"{self.path} is not {NAME} weights ({reason})") from None
        self.net.eval()
        self.card = card

    def working_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the network's pass for a frame of ``shape`` (H, W); never upscaled."""
        h, w = shape
        k = min(1.0, self.options.work_size / min(h, w))
        return max(1, round(w * k)), max(1, round(h * k))

    @torch.no_grad()
    def predict(self, luma: np.ndarray, prev: np.ndarray | None = None,
                mask: np.ndarray | None = None) -> np.ndarray:
        """YUV chroma float32 ``(h, w, 2)`` of a working-size frame.

        Args:
            luma: float32 ``(h, w)`` in [0, 1].
            prev: float32 ``(h, w, 3)`` RGB in [0, 1], the previous output; None = blank.
            mask: float ``(h, w)``, 1 where ``prev`` holds (None = everywhere).
        """
        gray = torch.from_numpy(np.ascontiguousarray(luma, np.float32))[None, None]
        if prev is None:
            p, m = blank_like(gray)
        else:
            p = torch.from_numpy(np.ascontiguousarray(prev, np.float32)).permute(2, 0, 1)[None]
            m = torch.ones_like(gray) if mask is None else torch.from_numpy(mask.astype(np.float32))
            m = m.reshape(1, 1, *luma.shape)
        return predict_uv(self.net, gray, p, m)[0].permute(1, 2, 0).numpy()

    def _emit(self, luma: np.ndarray, uv_small: np.ndarray) -> np.ndarray:
        """Full-size RGB: the working-size chroma upsampled, scaled by ``saturation``, on ``luma``."""
        h, w = luma.shape
        uv = uv_small if uv_small.shape[:2] == (h, w) else cv2.resize(uv_small, (w, h),
                                                                        interpolation=cv2.INTER_LINEAR)
        if self.options.saturation != 1.0:
            uv = uv * np.float32(self.options.saturation)
        return compose_luma_chroma(luma, uv)

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        return self._emit(image, self.predict(_resize(image, self.working_size(image.shape))))

    def _colorize_frames(self, frames: Iterator[np.ndarray], inputs: Inputs) -> Iterator[np.ndarray]:
        state: _Previous | None = None
        for frame in frames:
            size = self.working_size(frame.shape)
            small = _resize(frame, size)
            if state is None and inputs.keyframe is not None:
                out = keyframe_start(inputs.keyframe, frame)
                state = _Previous(compose_luma_chroma(small, _resize(rgb_to_uv(out), size)), small)
                yield out
                continue
            prev, mask = self._previous(state, small)
            uv = self.predict(small, prev, mask)
            state = _Previous(compose_luma_chroma(small, uv), small)
            yield self._emit(frame, uv)

    def _previous(self, state: _Previous | None,
                  luma: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """What the network is shown as the previous frame: None (blank) at the start and after a cut,
        else the previous output (warped by the flow, occluded pixels masked, if ``warp``)."""
        if state is None:
            return None, None
        o = self.options
        if o.histogram_cut(state.luma, luma):
            return None, None
        moved = motion(state.luma, luma)
        if o.occlusion_cut(moved.occluded_fraction):
            return None, None
        if o.warp:
            return warp(state.rgb, moved.to_prev), moved.valid
        return state.rgb, None
