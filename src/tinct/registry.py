"""The one colorization interface and the method registry.

Every method is a :class:`Colorizer` subclass registered with :func:`register`, which records as
data (as timm keeps its pretrained configs) what the method needs, its options dataclass, its
named weight variants and how it is trained. :mod:`tinct.methods` lists the method packages;
the registry imports only the one asked for.

The contract of a method (class attributes):

- ``needs`` / ``accepts``: input kinds (:data:`INPUT_KINDS`: ``reference`` RGB image, ``hints``
  scribbles, ``caption`` text) it requires / can use.
- ``modality``: what its single-band input is (:data:`MODALITIES`): ``luma`` (a gray photo, the
  default), ``nir`` (a near-infrared band) or ``lineart`` (a line drawing).
- ``keeps_luma``: whether the output's BT.601 luma equals the input (True for ``luma`` methods,
  which compose through :func:`tinct.color.compose_luma_chroma`; NIR and line-art outputs do not).
- ``reference_same_size``: the reference must have the input's size (rectified stereo views).
- ``temporal``: a video method whose output depends on the previous frames (it overrides
  ``_colorize_frames`` and starts from ``inputs.keyframe`` when one is given).

:meth:`Colorizer.colorize` is the only place that checks inputs: the CLI, the web app and the
benchmarks call it (or :func:`check_inputs`, its needs check, to refuse early).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from tinct.errors import TinctError
from tinct.hints import Hints
from tinct.options import NoOptions, build_options, describe_options
from tinct.weights import DEFAULT_VARIANT, bundled_path

INPUT_KINDS = frozenset({"reference", "hints", "caption"})
MODALITIES = frozenset({"luma", "nir", "lineart"})
_INPUT_WORDS = {"reference": "a colour reference image", "hints": "colour scribbles (hints)",
                "caption": "a caption (text)"}
_MODALITY_WORDS = {"luma": "gray input", "nir": "near-infrared input", "lineart": "line-art input"}

__all__ = ["INPUT_KINDS", "MODALITIES", "Colorizer", "Hints", "Inputs", "MethodInfo", "MissingInput",
           "check_gray", "check_inputs", "check_rgb", "keyframe_start", "list_methods", "load_method",
           "method_info", "register"]


class MissingInput(TinctError):
    """A method was called without an input it needs (``kind`` says which)."""

    def __init__(self, method: str, kind: str) -> None:
        super().__init__(f"method '{method}' needs {_INPUT_WORDS[kind]}")
        self.method, self.kind = method, kind


@dataclass(frozen=True)
class Inputs:
    """The validated inputs besides the image: what ``_colorize`` receives.

    Attributes:
        reference: float32 ``(H', W', 3)`` RGB in [0, 1] (``(H, W, 3)`` for ``reference_same_size``).
        hints: :class:`Hints` of the image's ``(H, W)``.
        caption: non-empty text.
        keyframe: float32 ``(H, W, 3)`` RGB in [0, 1], the user's coloured first frame
            (:meth:`Colorizer.colorize_frames` only; not an input kind).
    """

    reference: np.ndarray | None = None
    hints: Hints | None = None
    caption: str | None = None
    keyframe: np.ndarray | None = None

    def given(self) -> frozenset[str]:
        """The input kinds that are present."""
        return frozenset(k for k in INPUT_KINDS if getattr(self, k) is not None)


def check_inputs(method: str, needs: Iterable[str], accepts: Iterable[str],
                 given: Iterable[str]) -> list[str]:
    """The one needs check: raise :class:`MissingInput` for a missing input; return the given input
    kinds the method does not use (they are ignored; callers may say so)."""
    given, accepts = set(given), set(accepts) | set(needs)
    for kind in sorted(needs):
        if kind not in given:
            raise MissingInput(method, kind)
    return sorted(given - accepts)


@dataclass(frozen=True)
class MethodInfo:
    """What the registry knows about a method (shown by ``tinct methods NAME``).

    Attributes:
        options: the options dataclass (``-O key=value``; see :mod:`tinct.options`).
        weights: bundled weight variants, ``{name: one-line description}`` (``--weights NAME``).
        train_config / trainer: the training dataclass and ``trainer(config, run) -> int``, or
            ``"module:attr"`` strings imported on use (``tinct train NAME``).
    """

    name: str
    summary: str
    paper: str
    needs: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()
    modality: str = "luma"
    keeps_luma: bool = True
    options: type = NoOptions
    weights: Mapping[str, str] = field(default_factory=dict)
    train_config: Any = None
    trainer: Any = None
    factory: Callable[..., Colorizer] = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def trainable(self) -> bool:
        return self.trainer is not None

    @property
    def bundled_weights(self) -> bool:
        """Whether the default weights ship with this installation."""
        return DEFAULT_VARIANT in self.weights and bundled_path(self.name).is_file()

    def option_specs(self) -> list:
        return describe_options(self.options)

    def check_inputs(self, given: Iterable[str]) -> list[str]:
        """:func:`check_inputs` for this method."""
        return check_inputs(self.name, self.needs, self.accepts, given)

    def resolve_training(self) -> tuple[type, Callable[..., int]]:
        """The training dataclass and trainer function (imported now if given as strings)."""
        return _import_attr(self.train_config), _import_attr(self.trainer)


def _import_attr(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class Colorizer(ABC):
    """Base class of every method: one band (H, W) in [0, 1] -> RGB (H, W, 3) in [0, 1].

    Subclasses implement :meth:`_colorize` (and video methods :meth:`_colorize_frames`); the
    public methods validate first, so every method rejects bad input with the same message.
    Options: ``Method(**values)`` or ``Method(OptionsDataclass(...))``; they are checked by
    :func:`tinct.options.build_options` and kept in ``self.options``.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    accepts: ClassVar[frozenset[str]] = frozenset()
    modality: ClassVar[str] = "luma"
    keeps_luma: ClassVar[bool] = True
    reference_same_size: ClassVar[bool] = False
    temporal: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None, /, **values: Any) -> None:
        if options is not None and values:
            raise TinctError(f"{self.name}: give an options object or keyword options, not both")
        values = options if options is not None else values
        self.options = build_options(self.Options, values, owner=self.name)

    # ------------------------------------------------------------------ the public contract
    def colorize(self, image: np.ndarray, *, reference: np.ndarray | None = None, hints: Hints | None = None,
                 caption: str | None = None) -> np.ndarray:
        """Colorize one image.

        Args:
            image: float ``(H, W)`` in [0, 1]: luma (or NIR / line art, see ``modality``).
            reference: float ``(H', W', 3)`` RGB in [0, 1], for methods that use one.
            hints: :class:`Hints` of the same ``(H, W)``, for methods that use them.
            caption: text, for methods that use one.

        Returns:
            float32 ``(H, W, 3)`` RGB in [0, 1]; its luma is ``image`` when ``keeps_luma``.
        """
        image = check_gray(image, what=_MODALITY_WORDS.get(self.modality, "input"))
        inputs = self.prepare_inputs(image.shape, reference=reference, hints=hints, caption=caption)
        return _finish(self._colorize(image, inputs), image.shape, self.name, inputs)

    def colorize_frames(self, frames: Iterable[np.ndarray], *, reference: np.ndarray | None = None,
                        hints: Hints | None = None, caption: str | None = None,
                        keyframe: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Colorize a sequence lazily, one frame in, one frame out (memory independent of length).

        Frames are float ``(H, W)`` in [0, 1], all of one size; the inputs are shared by every frame
        (hints must match the frame size). Video methods (``temporal``) override
        :meth:`_colorize_frames`.

        Args:
            keyframe: float ``(H, W, 3)`` RGB in [0, 1] of the frames' size: the coloured first frame.
                Output 0 is its chroma on frame 0's luma (the keyframe itself for methods that do not
                keep luma); a temporal method carries it on as its previous frame, a per-frame method
                colours the later frames on their own (wrap it in ``video-blend`` to propagate it).
        """
        state: dict[str, Any] = {}
        if keyframe is not None:
            keyframe = check_rgb(keyframe, what="keyframe")

        def checked() -> Iterator[np.ndarray]:
            for k, frame in enumerate(frames):
                frame = check_gray(frame, what=f"frame {k}")
                if "shape" not in state:
                    state["shape"] = frame.shape
                    given = self.prepare_inputs(frame.shape, reference=reference, hints=hints,
                                                caption=caption)
                    state["inputs"] = replace(given, keyframe=keyframe)
                    if keyframe is not None and keyframe.shape[:2] != frame.shape:
                        (h, w), (fh, fw) = keyframe.shape[:2], frame.shape
                        raise TinctError(f"the keyframe is {w}x{h}, the frames {fw}x{fh}; give the first "
                                         "frame's size")
                elif frame.shape != state["shape"]:
                    raise TinctError(f"frame {k} is {frame.shape[1]}x{frame.shape[0]} but the first frame is "
                                     f"{state['shape'][1]}x{state['shape'][0]}; a sequence has one size")
                yield frame

        source = checked()
        try:
            first = next(source)
        except StopIteration:
            return
        for out in self._colorize_frames(_chain(first, source), state["inputs"]):
            yield _finish(out, state["shape"], self.name, state["inputs"])

    def prepare_inputs(self, shape: tuple[int, int], *, reference: np.ndarray | None = None,
                       hints: Hints | None = None, caption: str | None = None) -> Inputs:
        """Validate the extra inputs for an image of ``shape``; drop those the method does not use."""
        if reference is not None:
            reference = check_rgb(reference, what="reference")
        if hints is not None:
            if not isinstance(hints, Hints):
                raise TinctError(f"hints must be a tinct.Hints, got {type(hints).__name__}")
            if hints.mask.shape != tuple(shape):
                raise TinctError(f"hints are {hints.mask.shape[1]}x{hints.mask.shape[0]} but the image is "
                                 f"{shape[1]}x{shape[0]}; they must be the same size")
        if caption is not None:
            if not isinstance(caption, str) or not caption.strip():
                raise TinctError("the caption must be non-empty text")
            caption = " ".join(caption.split())
        given = Inputs(reference, hints, caption)
        check_inputs(self.name, self.needs, self.accepts, given.given())
        accepted = self.needs | self.accepts
        inputs = Inputs(**{k: getattr(given, k) if k in accepted else None for k in INPUT_KINDS})
        if self.reference_same_size and inputs.reference is not None and inputs.reference.shape[:2] != shape:
            r = inputs.reference
            raise TinctError(f"{self.name} needs the rectified colour view of the same size: reference is "
                             f"{r.shape[1]}x{r.shape[0]}, the image is {shape[1]}x{shape[0]}")
        return inputs

    def release(self) -> None:  # noqa: B027 - optional hook, a no-op for methods that keep nothing
        """Free memory kept between calls (caches, workspaces); the method stays usable."""

    # ------------------------------------------------------------------ what subclasses write
    @abstractmethod
    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        """Method body: ``image`` float32 ``(H, W)`` validated; returns ``(H, W, 3)`` RGB."""

    def _colorize_frames(self, frames: Iterator[np.ndarray], inputs: Inputs) -> Iterator[np.ndarray]:
        """Sequence body: by default every frame on its own (frame 0 from the keyframe, if any)."""
        for k, frame in enumerate(frames):
            if k == 0 and inputs.keyframe is not None:
                yield keyframe_start(inputs.keyframe, frame, keeps_luma=self.keeps_luma)
            else:
                yield self._colorize(frame, inputs)


def keyframe_start(keyframe: np.ndarray, frame: np.ndarray, *, keeps_luma: bool = True) -> np.ndarray:
    """The first output of a sequence started from ``keyframe`` (float ``(H, W, 3)`` RGB in [0, 1]):
    float32 ``(H, W, 3)``, its YUV chroma on ``frame``'s luma (``(H, W)`` in [0, 1]) if ``keeps_luma``,
    else the keyframe itself."""
    from tinct.color import compose_luma_chroma, rgb_to_uv

    if not keeps_luma:
        return np.array(keyframe, dtype=np.float32)
    return compose_luma_chroma(frame, rgb_to_uv(keyframe))


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _finish(out: Any, shape: tuple[int, ...], name: str, inputs: Inputs | None = None) -> np.ndarray:
    given = () if inputs is None else (inputs.reference, None if inputs.hints is None else inputs.hints.color)
    owned = (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.base is None
             and out.flags.writeable and not any(out is g for g in given))
    out = np.asarray(out, dtype=np.float32)
    if out.shape != (*shape, 3):
        raise AssertionError(f"method '{name}' returned shape {out.shape} for a {shape} input")
    return np.clip(out, 0.0, 1.0, out=out if owned else None)  # in place on a fresh result: no second copy


def check_gray(gray: Any, *, what: str = "gray input") -> np.ndarray:
    """Validate a single-band image: (H, W) finite, returned as float32."""
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise TinctError(f"{what} must be (H, W), got shape {gray.shape}")
    if gray.shape[0] < 1 or gray.shape[1] < 1:
        raise TinctError(f"{what} is empty: shape {gray.shape}")
    gray = gray.astype(np.float32, copy=False)
    if not np.isfinite(gray).all():
        raise TinctError(f"{what} contains NaN or infinity")
    return gray


def check_rgb(rgb: Any, *, what: str = "image") -> np.ndarray:
    """Validate an RGB image: (H, W, 3) finite, returned as float32."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise TinctError(f"{what} must be (H, W, 3) RGB, got shape {rgb.shape}")
    rgb = rgb.astype(np.float32, copy=False)
    if not np.isfinite(rgb).all():
        raise TinctError(f"{what} contains NaN or infinity")
    return rgb


_REGISTRY: dict[str, MethodInfo] = {}


def register(*, summary: str, paper: str, options: type = NoOptions, weights: Mapping[str, str] | None = None,
             train_config: Any = None, trainer: Any = None) -> Callable[[type[Colorizer]], type[Colorizer]]:
    """Class decorator that registers a :class:`Colorizer` under its ``name``.

    Args:
        summary, paper: shown by ``tinct methods``.
        options: the options dataclass (fields with defaults and help; :func:`tinct.options.option`).
        weights: bundled weight variants ``{name: description}``; the options need a ``weights`` field.
        train_config, trainer: the training dataclass and ``trainer(config, run) -> int`` (objects or
            ``"module:attr"`` strings, imported by ``tinct train`` only).
    """

    def deco(cls: type[Colorizer]) -> type[Colorizer]:
        if not cls.name:
            raise ValueError(f"{cls.__qualname__} has no name")
        if cls.name in _REGISTRY:
            raise ValueError(f"method '{cls.name}' is registered twice")
        unknown = (cls.needs | cls.accepts) - INPUT_KINDS
        if unknown:
            raise ValueError(f"{cls.name}: unknown input kinds {sorted(unknown)}")
        if cls.modality not in MODALITIES:
            raise ValueError(f"{cls.name}: unknown modality {cls.modality!r}")
        if weights and "weights" not in {s.name for s in describe_options(options)}:
            raise ValueError(f"{cls.name}: a method with weight variants needs a 'weights' option")
        if (train_config is None) != (trainer is None):
            raise ValueError(f"{cls.name}: give both train_config and trainer, or neither")
        cls.Options = options
        _REGISTRY[cls.name] = MethodInfo(
            name=cls.name, summary=summary, paper=paper, needs=cls.needs, accepts=cls.accepts | cls.needs,
            modality=cls.modality, keeps_luma=cls.keeps_luma, options=options, weights=dict(weights or {}),
            train_config=train_config, trainer=trainer, factory=cls)
        return cls

    return deco


def _ensure_loaded(name: str | None = None) -> None:
    """Import method ``name``'s package (it registers itself), or every method package."""
    from tinct.methods import PACKAGES

    if name is not None and name in _REGISTRY:
        return
    own = name.replace("-", "_") if name is not None else None  # method "nir-unet" -> package nir_unet
    for package in PACKAGES if own is None or own not in PACKAGES else (own,):
        importlib.import_module(f"tinct.methods.{package}")


def list_methods() -> list[MethodInfo]:
    """All registered methods, sorted by name."""
    _ensure_loaded()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def method_info(name: str) -> MethodInfo:
    """The :class:`MethodInfo` of ``name``; a clear :class:`TinctError` if unknown.

    Only ``name``'s own package is imported (unless ``name`` is unknown).
    """
    _ensure_loaded(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise TinctError(f"unknown method '{name}'; known methods: {known}") from None


def load_method(name: str, **options: Any) -> Colorizer:
    """Instantiate method ``name`` with ``options`` (fields of its options dataclass; values typed or
    command-line text). Unknown or ill-typed options raise :class:`tinct.options.OptionError`."""
    return method_info(name).factory(**options)
