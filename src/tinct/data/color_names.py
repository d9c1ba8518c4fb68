"""Basic colour words (Berlin & Kay 1969) and the colour of an image region named by one of them.

The eleven basic colour terms of English: black, white, gray, red, green, blue, yellow, brown,
orange, pink, purple. A colour (CIE Lab, D65, L in 0..100, a/b about ±110) is named in two steps:

1. **achromatic**: chroma ``C = sqrt(a² + b²) <`` :data:`ACHROMATIC_CHROMA` (8) -> by lightness:
   ``L <`` 25 black, ``L >`` 80 white, else gray (the neutral words have no hue to compare);
2. **chromatic**: the nearest of the eight chromatic prototypes of :data:`PROTOTYPES` in Lab with
   lightness weighted by :data:`LIGHTNESS_WEIGHT` (0.5): hue and chroma decide most words, but
   lightness still separates brown from orange and pink from red.

The chromatic prototypes are **not** the saturated focal chips of the World Color Survey: the
median colour of a region of a photograph is far less saturated (Stanford Background's median
grass is about Lab (45, -10, 24), trees (35, -3, 7)), so each prototype is a mid-chroma colour
typical of what the word names in photos (sRGB in the comments). A region's colour is the
per-channel median Lab of its pixels (robust to highlights and small occluders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLOR_WORDS = ("black", "white", "gray", "red", "green", "blue", "yellow", "brown", "orange", "pink",
               "purple")
"""The 11 basic colour terms (index order is used in reports)."""

ACHROMATIC_CHROMA = 8.0
DARK_L, LIGHT_L = 25.0, 80.0
LIGHTNESS_WEIGHT = 0.5

PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "red": (45.0, 55.0, 35.0),       # sRGB ~ (185, 50, 45)
    "orange": (62.0, 30.0, 55.0),    # sRGB ~ (215, 130, 50)
    "yellow": (80.0, -5.0, 65.0),    # sRGB ~ (220, 200, 70)
    "green": (48.0, -28.0, 28.0),    # sRGB ~ (85, 125, 65): foliage and lawns, not the focal chip
    "blue": (55.0, 0.0, -35.0),      # sRGB ~ (90, 130, 190): skies and water
    "purple": (40.0, 35.0, -35.0),   # sRGB ~ (115, 75, 150)
    "pink": (70.0, 30.0, 5.0),       # sRGB ~ (225, 155, 165)
    "brown": (40.0, 12.0, 25.0),     # sRGB ~ (115, 90, 60)
    # the achromatic words are named by lightness (see the module docstring); these Lab values are
    # what the manipulation test puts on a region's lightness to ask whether a word is reachable
    "black": (12.0, 0.0, 0.0),
    "gray": (55.0, 0.0, 0.0),
    "white": (92.0, 0.0, 0.0),
}
_CHROMATIC = tuple(w for w in COLOR_WORDS if w not in ("black", "white", "gray"))
_PROTO = np.array([PROTOTYPES[w] for w in _CHROMATIC], np.float64)
_WEIGHT = np.array([LIGHTNESS_WEIGHT, 1.0, 1.0])


def name_colors(lab: np.ndarray) -> list[str]:
    """The basic colour word of each Lab colour.

    Args:
        lab: ``(M, 3)`` (or ``(3,)``) CIE Lab, L in 0..100.

    Returns:
        ``M`` words from :data:`COLOR_WORDS`.

    Example:
        >>> name_colors(np.array([[93.0, -1.0, -3.0], [45.0, -10.0, 24.0]]))
        ['white', 'green']
    """
    lab = np.atleast_2d(np.asarray(lab, np.float64))
    if lab.ndim != 2 or lab.shape[1] != 3:
        raise ValueError(f"name_colors expects (M, 3) Lab colours, got shape {lab.shape}")
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    d = np.linalg.norm((lab[:, None, :] - _PROTO[None]) * _WEIGHT, axis=2)
    nearest = np.argmin(d, axis=1)
    words = []
    for (light, _, _), c, k in zip(lab, chroma, nearest, strict=True):
        if c < ACHROMATIC_CHROMA:
            words.append("black" if light < DARK_L else "white" if light > LIGHT_L else "gray")
        else:
            words.append(_CHROMATIC[k])
    return words


def name_color(lab: tuple[float, float, float] | np.ndarray) -> str:
    """:func:`name_colors` of one Lab colour ``(3,)``."""
    return name_colors(np.asarray(lab, np.float64).reshape(1, 3))[0]


def reachable(word: str, lightness: float) -> bool:
    """Whether ``word`` can name a colour of lightness ``lightness`` (0..100) at all: the word's
    prototype chroma put on that lightness is named ``word``. A method that keeps the luma cannot
    make a bright sky black or a dark road white; the manipulation test reports such swaps apart."""
    _, a, b = PROTOTYPES[word]
    return name_color((lightness, a, b)) == word


@dataclass(frozen=True)
class Region:
    """One labelled region of an image and its colour.

    Attributes:
        label: class index (Stanford Background: 0 sky ... 7 foreground).
        fraction: share of the image's pixels, in (0, 1].
        lab: per-channel median CIE Lab of its pixels.
        word: :func:`name_color` of ``lab``.
    """

    label: int
    fraction: float
    lab: tuple[float, float, float]
    word: str

    def to_dict(self) -> dict:
        return {"label": self.label, "fraction": round(self.fraction, 4),
                "lab": [round(v, 2) for v in self.lab], "word": self.word}

    @classmethod
    def from_dict(cls, d: dict) -> Region:
        return cls(int(d["label"]), float(d["fraction"]), tuple(float(v) for v in d["lab"]), str(d["word"]))


def image_regions(lab: np.ndarray, labels: np.ndarray, *, classes: int = 8, min_fraction: float = 0.05,
                  ignore: int = 255) -> list[Region]:
    """The regions of one image covering at least ``min_fraction`` of it, largest first.

    Args:
        lab: ``(H, W, 3)`` CIE Lab of the image.
        labels: ``(H, W)`` integer class map in ``0..classes-1`` (``ignore``: unlabelled).
        classes: number of classes.
        min_fraction: smallest share of the image's pixels (unlabelled ones included) to name.

    Returns:
        :class:`Region` list sorted by decreasing ``fraction``.
    """
    if lab.shape[:2] != labels.shape:
        raise ValueError(f"image {lab.shape[:2]} and label map {labels.shape} differ in size")
    flat = labels.reshape(-1)
    counts = np.bincount(flat[flat != ignore].astype(np.int64), minlength=classes)[:classes]
    total = flat.size
    chosen = [k for k in np.argsort(-counts, kind="stable") if counts[k] >= max(1, min_fraction * total)]
    if not chosen:
        return []
    pixels = lab.reshape(-1, 3)
    medians = np.array([np.median(pixels[flat == k], axis=0) for k in chosen])
    words = name_colors(medians)
    return [Region(int(k), float(counts[k] / total), tuple(float(v) for v in m), w)
            for k, m, w in zip(chosen, medians, words, strict=True)]
