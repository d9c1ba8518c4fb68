"""What the page shows about methods and examples, in plain words.

- :func:`group_of`: which "what do you have?" group a method belongs to, from the registry's
  data (``modality``, ``needs``, ``accepts``, ``reference_same_size``), so a new method lands in
  the right group without touching the page.
- :data:`PLAIN`: a one-sentence description per method for a person who has not read the paper
  (the registry's ``summary`` is the fallback).
- :data:`EXAMPLES` / :func:`example_images`: the gallery: sample photos bundled with
  scikit-image (no download), each with the group it suits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinct.registry import MethodInfo

# (key, title, explanation) in the order the page lists them.
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("photo", "Just a photo", "Colours are guessed automatically from what is in the picture."),
    ("scribbles", "A photo + your scribbles", "You paint a few colour strokes; they spread to the regions "
                                              "they touch."),
    ("reference", "A photo + a colour photo of something similar", "Colours are borrowed from another "
                                                                     "photo with similar content."),
    ("dual", "A dual-camera pair", "A phone's black-and-white and colour camera took the same scene side "
                                   "by side; the colour view is copied onto the sharper gray one."),
    ("nir", "A near-infrared image", "An infrared photo is turned into natural colours."),
    ("lineart", "A line drawing", "A sketch or line drawing is filled with colour."),
    ("caption", "A photo + a caption", "You describe the colours in words."),
)

PLAIN: dict[str, str] = {
    "gray": "Shows the photo unchanged (in gray): a baseline to compare with.",
    "deepcolor": "Recognises textures and objects in small patches and paints each with its usual "
                 "colour. Quick, mild colours.",
    "fusion": "A neural network that looks at the whole picture to decide the scene, then at each "
              "region. Quick; muted colours, warm tones where it is sure.",
    "spynco": "A neural network trained without any colour/gray pairs (it learned from unpaired "
              "photos). Slow on big photos (about a minute for 2 megapixels).",
    "cyclegan": "A neural network trained on unpaired photos, the classic CycleGAN recipe. Slow on big "
                "photos.",
    "levin": "Spreads each scribble's colour over the region it touches, stopping at edges. "
             "Precise: you decide every colour.",
    "reinhard": "Shifts the photo's overall colour balance to that of the colour photo you give. "
                "Instant; one global tint.",
    "welsh": "Finds, for each pixel, a similar-looking spot in the colour photo and takes its colour.",
    "stereocopy": "Matches the two views of the dual camera pixel by pixel and copies each colour "
                  "across.",
    "caption": "Colours the photo automatically and follows the colours your caption names ('a red "
               "car on green grass'); it knows the 11 basic colour words and common scene words.",
    "cyclecnn": "A neural network that learned to copy colour from the colour camera's view onto the "
                "gray one, also where the views differ.",
    "lineart": "Fills a line drawing with colour. Without scribbles it only guesses a muted base "
               "colour; a few colour dots or strokes say which colours go where.",
}


def group_of(info: MethodInfo) -> str:
    """The :data:`GROUPS` key of a method: what the user needs to have to use it."""
    if info.modality in ("nir", "lineart"):
        return info.modality
    if "caption" in info.accepts and "hints" not in info.accepts:  # accepts includes needs
        return "caption"
    if "reference" in info.needs:
        return "dual" if getattr(info.factory, "reference_same_size", False) else "reference"
    if "hints" in info.accepts:
        return "scribbles"
    return "photo"


def plain_description(info: MethodInfo) -> str:
    """One plain sentence about the method (the registry's summary when none was written)."""
    return PLAIN.get(info.name, info.summary[:1].upper() + info.summary[1:] + ".")


@dataclass(frozen=True)
class Example:
    """One gallery entry: files in ``skimage/data``; ``reference`` for the groups that need one."""

    name: str
    title: str
    group: str
    image: str
    reference: str | None = None


EXAMPLES: tuple[Example, ...] = (
    Example("astronaut", "Astronaut", "photo", "astronaut.png"),
    Example("coffee", "Coffee cup", "photo", "coffee.png"),
    Example("rocket", "Rocket launch", "photo", "rocket.jpg"),
    Example("chelsea", "Cat (scribble it)", "scribbles", "chelsea.png"),
    Example("camera", "Cameraman + a colour photo", "reference", "camera.png", reference="astronaut.png"),
    Example("motorcycle", "Motorcycle, two cameras", "dual", "motorcycle_left.png",
            reference="motorcycle_right.png"),
)


def example(name: str) -> Example:
    """The gallery entry called ``name`` (KeyError if none)."""
    return {e.name: e for e in EXAMPLES}[name]


def _data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


@functools.lru_cache(maxsize=len(EXAMPLES) * 2)
def example_bytes(file: str) -> bytes:
    """The bytes of a bundled sample file (cached: the gallery is small)."""
    return (_data_dir() / file).read_bytes()


def thumbnail(file: str, size: int = 160) -> np.ndarray:
    """float32 ``(h, w, 3)`` RGB in [0, 1], the longer side ``size`` pixels, of a sample file."""
    from tinct import io as tio

    rgb = tio.decode(example_bytes(file), name=file).rgb
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / size)))
    return np.ascontiguousarray(rgb[::step, ::step, :3], dtype=np.float32)


@functools.lru_cache(maxsize=len(EXAMPLES) * 2)
def example_png(name: str, kind: str) -> bytes:
    """PNG bytes of a gallery example's ``thumb`` (160 px) or ``colour`` original (cached: every
    visitor asks for the same few; KeyError for an unknown name)."""
    from tinct import io as tio

    rgb = thumbnail(example(name).image, 160 if kind == "thumb" else 4096)
    return tio.encode(rgb, format="png")
