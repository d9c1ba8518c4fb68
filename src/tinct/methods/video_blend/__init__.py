"""``video-blend``: a per-frame method stabilised by flow-warped blending of the previous output's chroma.

The baseline of issue 17: an inner method (``-O inner=NAME``, default :data:`tinct.DEFAULT_METHOD`)
colours every frame on its own; its YUV chroma ``c_t`` is then blended with the previous *output*'s
chroma warped onto the current frame (DIS flow on the luma, :mod:`tinct.flow`)::

    out_t = alpha * warp(out_{t-1}) + (1 - alpha) * c_t    on pixels visible in frame t-1
    out_t = c_t                                            on occluded pixels (forward-backward check)

an exponential moving average along the motion. Averaging desaturates (warping resamples, hues
that flicker cancel), so the *displayed* chroma is scaled (``keep_saturation``) by the gain that
gives the blend, on those pixels, the inner method's colourfulness averaged over time with the same
``alpha`` (both sides of the ratio then lag alike; a per-frame target would chase a flickering inner
method). The memory keeps the unscaled blend: a gain fed back would compound. The luma is the
frame's exactly (:func:`tinct.color.compose_luma_chroma`). A *scene cut* (more than
``cut_occluded`` of the frame occluded, or the luma histograms further apart than
``cut_histogram``) resets the memory: the output is the inner method's frame again. A keyframe
(``colorize_frames(..., keyframe=)``) is output 0's chroma and is blended with ``keyframe_alpha``
(and no saturation gain) until the first cut: a user's colours should last the shot. See
``docs/methods/video.md`` for the measurements behind the defaults.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from tinct import DEFAULT_METHOD
from tinct.color import RGB_FROM_YUV, compose_luma_chroma, rgb_to_uv
from tinct.errors import TinctError
from tinct.flow import Motion, motion, warp
from tinct.hints import Hints
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, keyframe_start, load_method, method_info, register
from tinct.scene_cut import SceneCutOptions

NAME = "video-blend"


@dataclass(frozen=True)
class VideoBlendOptions(SceneCutOptions):
    """Options of :class:`VideoBlend`."""

    inner: str = option(DEFAULT_METHOD, "the method that colours each frame (any method with a gray input)")
    inner_options: dict = option({}, "options of the inner method, JSON on the command line: "
                                 "-O inner_options='{\"weights\": \"warm\"}'")
    alpha: float = option(0.8, "weight of the previous output (warped) on visible pixels, in [0, 1); "
                          "0 = the inner method alone")
    keyframe_alpha: float = option(1.0, "alpha while the shot of a keyframe lasts, in [0, 1] (1: the "
                                   "inner method fills only what the keyframe does not show)")
    keep_saturation: bool = option(True, "scale the displayed chroma to the inner method's colourfulness "
                                   "on the same pixels, by a gain averaged over time (averaging frames "
                                   "desaturates; not in a keyframe's shot)")
    flow_scale: float = option(0.5, "the flow is computed at this fraction of the frame size (speed), "
                               "in (0, 1]")

    def __post_init__(self) -> None:
        for key, low, high, closed in (("alpha", 0.0, 1.0, False), ("keyframe_alpha", 0.0, 1.0, True),
                                       ("flow_scale", 0.05, 1.0, True)):
            value = getattr(self, key)
            if not (low <= value <= high if closed else low <= value < high):
                bracket = "]" if closed else ")"
                raise OptionError(f"{NAME}: {key} must be in [{low}, {high}{bracket}, got {value}")
        self.check_cut_options(NAME)
        if self.inner == NAME:
            raise OptionError(f"{NAME}: the inner method cannot be {NAME} itself")


_RGB_PER_UV = RGB_FROM_YUV[:, 1:].astype(np.float32)  # R - Y, G - Y, B - Y per unit of U and V
_OPPONENT_PER_UV = np.stack([_RGB_PER_UV[0] - _RGB_PER_UV[1],  # rg = R - G, yb = (R + G) / 2 - B
                             0.5 * (_RGB_PER_UV[0] + _RGB_PER_UV[1]) - _RGB_PER_UV[2]])


def chroma_colourfulness(uv: np.ndarray) -> float:
    """Hasler & Suesstrunk's colourfulness of pixels given by their YUV chroma ``(..., 2)`` (rg and yb
    are linear in U, V: the luma cancels), in units of RGB [0, 1] (x 255 = :func:`tinct.metrics.colorfulness`
    before gamut clipping)."""
    opponent = np.asarray(uv, np.float32).reshape(-1, 2) @ _OPPONENT_PER_UV.T
    return float(np.hypot(*opponent.std(axis=0)) + 0.3 * np.hypot(*opponent.mean(axis=0)))


def saturation_gain(uv: np.ndarray, blended: np.ndarray, mask: np.ndarray, limit: float = 1.5, *,
                    target: float | None = None) -> np.float32:
    """The chroma gain in [1, ``limit``] that gives ``blended`` the colourfulness of ``uv`` (the inner
    method's chroma) on the pixels of ``mask``, or the colourfulness ``target`` if given: averaging
    frames desaturates, this undoes it."""
    if not mask.any():
        return np.float32(1.0)
    current = chroma_colourfulness(uv[mask]) if target is None else target
    mixed = chroma_colourfulness(blended[mask])
    return np.float32(np.clip(current / mixed, 1.0, limit) if mixed > 1e-6 else 1.0)


def scaled_motion(prev_luma: np.ndarray, luma: np.ndarray, scale: float) -> Motion:
    """:func:`tinct.flow.motion` computed at ``scale`` of the frame size, returned at full size."""
    if scale >= 1.0:
        return motion(prev_luma, luma)
    h, w = luma.shape
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = motion(*(cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (prev_luma, luma)))
    flow = cv2.resize(small.to_prev, (w, h), interpolation=cv2.INTER_LINEAR)
    flow *= np.array([w / size[0], h / size[1]], np.float32)
    valid = cv2.resize(small.valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return Motion(flow, valid)


@dataclass
class _Track:
    """What the stream remembers: the blended chroma before the saturation gain, the previous luma,
    whether a keyframe rules, and the inner method's colourfulness averaged over the shot so far
    (``None`` until the first blended frame)."""

    uv: np.ndarray
    luma: np.ndarray
    keyframe_shot: bool
    colourfulness: float | None = None


@register(summary="video: a per-frame method + flow-warped blending of the previous output's chroma",
          paper="baseline of issue 17 (flow: DIS, Kroeger et al. 2016; occlusions: Lai et al. 2018)",
          options=VideoBlendOptions)
class VideoBlend(Colorizer):
    """Temporal stabiliser around an inner luma method; a single image is the inner method's result."""

    name = NAME
    accepts = frozenset({"reference", "hints", "caption"})  # handed to the inner method, which checks them
    temporal = True

    def __init__(self, options: VideoBlendOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        try:
            info = method_info(self.options.inner)
        except TinctError as exc:
            raise OptionError(f"{NAME}: option 'inner': {exc}") from None
        if info.modality != "luma" or not info.keeps_luma:
            raise OptionError(f"{NAME}: option 'inner': '{info.name}' does not colour a gray frame keeping "
                              "its luma; choose a method with a gray input")
        self.inner = load_method(info.name, **self.options.inner_options)

    @classmethod
    def around(cls, inner: Colorizer, **values: object) -> VideoBlend:
        """A video-blend whose inner method is the given (loaded) colorizer, e.g. one not registered;
        ``values`` are the other options (``inner`` is the colorizer's name; ``inner_options`` unused)."""
        blend = cls.__new__(cls)
        Colorizer.__init__(blend, inner=inner.name, **values)
        blend.inner = inner
        return blend

    def prepare_inputs(self, shape: tuple[int, int], *, reference: np.ndarray | None = None,
                       hints: Hints | None = None, caption: str | None = None) -> Inputs:
        """As :meth:`Colorizer.prepare_inputs`, and the inner method's needs are checked now."""
        self.inner.prepare_inputs(shape, reference=reference, hints=hints, caption=caption)
        return super().prepare_inputs(shape, reference=reference, hints=hints, caption=caption)

    def release(self) -> None:
        self.inner.release()

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        return self.inner.colorize(image, reference=inputs.reference, hints=inputs.hints,
                                   caption=inputs.caption)

    def _colorize_frames(self, frames: Iterator[np.ndarray], inputs: Inputs) -> Iterator[np.ndarray]:
        pending: deque[np.ndarray] = deque()  # frames the inner method has taken but not yet returned

        def feed() -> Iterator[np.ndarray]:
            for frame in frames:
                pending.append(frame)
                yield frame

        coloured = self.inner.colorize_frames(feed(), reference=inputs.reference, hints=inputs.hints,
                                              caption=inputs.caption)
        track: _Track | None = None
        for current in coloured:
            luma = pending.popleft()
            if track is None:
                out = current if inputs.keyframe is None else keyframe_start(inputs.keyframe, luma)
                track = _Track(rgb_to_uv(out), luma, inputs.keyframe is not None)
            else:
                out = self._step(track, luma, current)
            yield out

    def _step(self, track: _Track, luma: np.ndarray, current: np.ndarray) -> np.ndarray:
        """One frame: blend ``current``'s chroma with the warped memory, or reset at a cut."""
        o = self.options
        moved = scaled_motion(track.luma, luma, o.flow_scale)
        cut = o.occlusion_cut(moved.occluded_fraction) or o.histogram_cut(track.luma, luma)
        uv = rgb_to_uv(current)
        gain = np.float32(1.0)
        if cut:
            track.keyframe_shot, track.colourfulness, memory = False, None, uv
        else:
            alpha = np.float32(o.keyframe_alpha if track.keyframe_shot else o.alpha)
            blended = alpha * warp(track.uv, moved.to_prev) + (1 - alpha) * uv
            memory = np.where(moved.valid[..., None], blended, uv)
            # not while a keyframe rules: its colours are the user's
            if o.keep_saturation and not track.keyframe_shot and moved.valid.any():
                now, before = chroma_colourfulness(uv[moved.valid]), track.colourfulness
                track.colourfulness = now if before is None else o.alpha * before + (1 - o.alpha) * now
                gain = saturation_gain(uv, memory, moved.valid, target=track.colourfulness)
        out = current if cut else compose_luma_chroma(luma, memory * gain)
        kept = out if gain == 1.0 else compose_luma_chroma(luma, memory)  # remembered within the gamut
        track.uv, track.luma = rgb_to_uv(kept), luma
        return out
