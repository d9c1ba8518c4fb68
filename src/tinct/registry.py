"""The one colorization interface and the method registry.

Every method is a :class:`Colorizer` subclass registered with :func:`register`. The registry maps
a name (``"gray"``, ``"levin"``, ``"deepcolor"`` ...) to a factory and to a :class:`MethodInfo`
that says what the method needs (a reference, hints), which paper it follows and whether its
weights ship inside the package. Method packages are imported explicitly by
:mod:`tinct.methods` (no discovery by file name).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tinct.errors import TinctError

INPUT_KINDS = frozenset({"reference", "hints"})


@dataclass(frozen=True)
class Hints:
    """User colour scribbles.

    Attributes:
        color: float32 ``(H, W, 3)`` RGB in [0, 1]; only meaningful where ``mask`` is set.
        mask: bool ``(H, W)``; True where a scribble gives a colour.
    """

    color: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        if self.color.ndim != 3 or self.color.shape[2] != 3:
            raise ValueError(f"hints colour must be (H, W, 3), got {self.color.shape}")
        if self.mask.shape != self.color.shape[:2]:
            raise ValueError(f"hints mask {self.mask.shape} does not match colour {self.color.shape[:2]}")


@dataclass(frozen=True)
class MethodInfo:
    """What the registry knows about a method (shown by ``tinct methods``)."""

    name: str
    summary: str
    paper: str
    needs: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()
    bundled_weights: bool = False
    trainable: bool = False
    factory: Callable[..., Colorizer] = field(default=None, repr=False)  # type: ignore[assignment]


class Colorizer(ABC):
    """Base class of every method: gray (H, W) in [0, 1] -> RGB (H, W, 3) in [0, 1].

    Subclasses implement :meth:`_colorize`; :meth:`colorize` validates the inputs first so every
    method rejects bad shapes with the same clear message.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    accepts: ClassVar[frozenset[str]] = frozenset()

    def colorize(
        self,
        gray: np.ndarray,
        *,
        reference: np.ndarray | None = None,
        hints: Hints | None = None,
    ) -> np.ndarray:
        """Colorize one image.

        Args:
            gray: float ``(H, W)`` luma in [0, 1].
            reference: float ``(H', W', 3)`` RGB in [0, 1], for methods that use one.
            hints: :class:`Hints` of the same ``(H, W)``, for methods that use them.

        Returns:
            float32 ``(H, W, 3)`` RGB in [0, 1].
        """
        gray = check_gray(gray)
        if reference is not None:
            reference = check_rgb(reference, what="reference")
        if "reference" in self.needs and reference is None:
            raise TinctError(f"method '{self.name}' needs a colour reference image (--reference)")
        if "hints" in self.needs and hints is None:
            raise TinctError(f"method '{self.name}' needs colour hints (--hints)")
        if hints is not None and hints.mask.shape != gray.shape:
            raise TinctError(f"hints are {hints.mask.shape[1]}x{hints.mask.shape[0]} but the image is "
                             f"{gray.shape[1]}x{gray.shape[0]}; they must be the same size")
        out = self._colorize(gray, reference=reference, hints=hints)
        return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)

    @abstractmethod
    def _colorize(self, gray: np.ndarray, *, reference: np.ndarray | None, hints: Hints | None) -> np.ndarray:
        """Method body; inputs are already validated float32."""


def check_gray(gray: Any) -> np.ndarray:
    """Validate a gray image: (H, W) finite, returned as float32."""
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise TinctError(f"gray input must be (H, W), got shape {gray.shape}")
    if gray.shape[0] < 1 or gray.shape[1] < 1:
        raise TinctError(f"gray input is empty: shape {gray.shape}")
    gray = gray.astype(np.float32, copy=False)
    if not np.isfinite(gray).all():
        raise TinctError("gray input contains NaN or infinity")
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


def register(
    *,
    summary: str,
    paper: str,
    bundled_weights: bool = False,
    trainable: bool = False,
) -> Callable[[type[Colorizer]], type[Colorizer]]:
    """Class decorator that registers a :class:`Colorizer` under its ``name``."""

    def deco(cls: type[Colorizer]) -> type[Colorizer]:
        if not cls.name:
            raise ValueError(f"{cls.__qualname__} has no name")
        if cls.name in _REGISTRY:
            raise ValueError(f"method '{cls.name}' is registered twice")
        unknown = (cls.needs | cls.accepts) - INPUT_KINDS
        if unknown:
            raise ValueError(f"{cls.name}: unknown input kinds {sorted(unknown)}")
        _REGISTRY[cls.name] = MethodInfo(
            name=cls.name, summary=summary, paper=paper, needs=cls.needs,
            accepts=cls.accepts | cls.needs, bundled_weights=bundled_weights,
            trainable=trainable, factory=cls,
        )
        return cls

    return deco


def _ensure_loaded(name: str | None = None) -> None:
    """Import method ``name``'s package (it registers itself), or every method package."""
    from tinct.methods import PACKAGES

    if name is not None and name in _REGISTRY:
        return
    for package in PACKAGES if name is None or name not in PACKAGES else (name,):
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
    """Instantiate method ``name`` with ``options`` (keyword arguments of its class)."""
    info = method_info(name)
    try:
        return info.factory(**options)
    except TypeError as exc:
        raise TinctError(f"bad options for method '{name}': {exc}") from None
