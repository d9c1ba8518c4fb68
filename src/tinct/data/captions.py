"""Captions synthesized from labelled regions: "blue sky, green trees, gray road".

COCO's 239 captioned images are too few to train on, so training captions are made from region
labels (Stanford Background's 8 classes, or deepcolor's scene parser on unlabelled photos) and
each region's true colour named by :mod:`tinct.data.color_names`. A caption names a random
subset of 1-4 of the regions in a random order, with a random noun for each class ("trees",
"foliage"), an optional article and one of several templates (:data:`TEMPLATES`). The choice is
kept as a :class:`CaptionPlan` so that the same sentence can be rendered with other colour words
(the manipulation test swaps one).

The vocabulary (:data:`VOCABULARY`) is every word the templates can produce, fixed in code and
written into the weights card; other words are out of vocabulary (``<unk>``). The held-out split
of unlabelled photos is by a hash of the file name (:func:`is_held_out`), Stanford Background
keeps its own ``split_val.txt``. :func:`write_caption_cache` stores the whole-image regions and
captions of a run as JSON (in the run folder, never in the repository).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinct.data.color_names import COLOR_WORDS, Region

CLASS_NAMES = ("sky", "tree", "road", "grass", "water", "building", "mountain", "foreground")

NOUNS: dict[int, tuple[tuple[str, bool], ...]] = {
    # class -> (noun, plural); singular countable nouns may take "a"/"an" (see COUNTABLE)
    0: (("sky", False),),
    1: (("trees", True), ("tree", False), ("foliage", False), ("leaves", True)),
    2: (("road", False), ("street", False), ("pavement", False)),
    3: (("grass", False), ("lawn", False), ("field", False)),
    4: (("water", False), ("lake", False), ("sea", False), ("river", False)),
    5: (("building", False), ("buildings", True), ("house", False), ("wall", False)),
    6: (("mountain", False), ("mountains", True), ("hills", True)),
    7: (("object", False), ("foreground", False), ("thing", False)),
}
COUNTABLE = frozenset({"tree", "road", "street", "lawn", "field", "lake", "river", "building", "house",
                       "wall", "mountain", "object", "thing"})

TEMPLATES = ("list", "photo", "picture", "image", "bare", "is", "sky", "relation")
"""Template ids: ``list`` "blue sky, green trees, gray road"; ``photo`` / ``picture`` / ``image``
"a photo of green grass and a red house"; ``bare`` "green grass and a red house"; ``is`` "the sky
is blue and the trees are green"; ``sky`` "a photo of green grass under a blue sky" (needs a sky
region); ``relation`` "a red bus in front of a white house" (two regions)."""
RELATIONS = ("in front of", "next to", "with", "near", "beside")
_LEADS = {"photo": "a photo of", "picture": "a picture of", "image": "an image of"}

SPECIAL = ("<pad>", "<unk>", "<none>")
PAD, UNK, NONE = 0, 1, 2


def _template_words() -> list[str]:
    words = {"a", "an", "the", "and", "is", "are", "under"}
    for text in (*_LEADS.values(), *RELATIONS):
        words.update(text.split())
    words.update(n for nouns in NOUNS.values() for n, _ in nouns)
    return sorted(words)


VOCABULARY: tuple[str, ...] = (*SPECIAL, *COLOR_WORDS, *_template_words())
"""Token ids: the specials (pad 0, unknown 1, the empty caption 2), the 11 colour words, then the
template and noun words, sorted."""
ALIASES = {"grey": "gray", "violet": "purple", "golden": "yellow"}


def tokenize(text: str, vocabulary: Sequence[str] = VOCABULARY) -> tuple[list[int], list[str]]:
    """Token ids of ``text`` (lower-cased, letters only, :data:`ALIASES` applied) and the words
    outside ``vocabulary`` (mapped to ``<unk>``), each named once in order of appearance.
    An empty text is the single ``<none>`` token (the empty caption)."""
    index = {w: i for i, w in enumerate(vocabulary)}
    words = [ALIASES.get(w, w) for w in re.findall(r"[a-z]+", text.lower())]
    if not words:
        return [NONE], []
    ids = [index.get(w, UNK) for w in words]
    unknown = list(dict.fromkeys(w for w in words if w not in index))
    return ids, unknown


@dataclass(frozen=True)
class CaptionPlan:
    """One caption's structure, rendered by :func:`render` with any colour words.

    Attributes:
        regions: the named regions' class indices, in sentence order.
        nouns: the noun chosen for each (``(noun, plural)``).
        articles: whether each singular countable noun gets "a"/"an".
        template: one of :data:`TEMPLATES`.
        relation: the phrase of the ``relation`` template.
    """

    regions: tuple[int, ...]
    nouns: tuple[tuple[str, bool], ...]
    articles: tuple[bool, ...]
    template: str
    relation: str = "in front of"


def plan_caption(regions: Sequence[Region], rng: np.random.Generator, *, max_named: int = 4,
                 must_name: Sequence[int] = ()) -> CaptionPlan:
    """A random :class:`CaptionPlan` naming 1..``max_named`` of ``regions`` (which must be non-empty);
    the classes in ``must_name`` are always among them (a recoloured region must be named, or its
    colour is unexplained by the caption), in random places."""
    if not regions:
        raise ValueError("a caption needs at least one region")
    n = int(rng.integers(1, min(max_named, len(regions)) + 1))
    picked = [regions[i].label for i in rng.permutation(len(regions))[:n]]
    missing = [k for k in must_name if k not in picked]
    if missing:
        free = [i for i, k in enumerate(picked) if k not in must_name]
        for k in missing:
            if free:
                picked[free.pop(int(rng.integers(len(free))))] = k
            else:
                picked.insert(int(rng.integers(len(picked) + 1)), k)
        n = len(picked)  # the templates below depend on how many are named
    options = ["list", "photo", "picture", "image", "bare", "is"]
    if 0 in picked and n > 1:
        options.append("sky")
    if n == 2:
        options.append("relation")
    template = options[int(rng.integers(len(options)))]
    if template == "sky":  # the sky goes last, after "under a"
        picked = [k for k in picked if k != 0] + [0]
    nouns = tuple(NOUNS[k][int(rng.integers(len(NOUNS[k])))] for k in picked)
    articles = tuple(bool(rng.random() < 0.5) for _ in picked)
    relation = RELATIONS[int(rng.integers(len(RELATIONS)))]
    return CaptionPlan(tuple(picked), nouns, articles, template, relation)


def _phrase(word: str, noun: tuple[str, bool], article: bool) -> str:
    if article and noun[0] in COUNTABLE:
        return f"{'an' if word[0] in 'aeiou' else 'a'} {word} {noun[0]}"
    return f"{word} {noun[0]}"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def render(plan: CaptionPlan, words: dict[int, str]) -> str:
    """The caption text of ``plan`` with colour ``words[class]`` for each named region."""
    cols = [words[k] for k in plan.regions]
    phrases = [_phrase(c, n, a) for c, n, a in zip(cols, plan.nouns, plan.articles, strict=True)]
    t = plan.template
    if t == "list":
        return ", ".join(phrases)
    if t in _LEADS:
        return f"{_LEADS[t]} {_and(phrases)}"
    if t == "bare":
        return _and(phrases)
    if t == "is":
        return " and ".join(f"the {n} {'are' if plural else 'is'} {c}"
                            for c, (n, plural) in zip(cols, plan.nouns, strict=True))
    if t == "sky":
        return f"a photo of {_and(phrases[:-1])} under a {cols[-1]} sky"
    if t == "relation":
        return f"{phrases[0]} {plan.relation} {phrases[1]}"
    raise ValueError(f"unknown template {t!r}")


def synthesize(regions: Sequence[Region], rng: np.random.Generator,
               must_name: Sequence[int] = ()) -> tuple[str, CaptionPlan]:
    """A caption of ``regions`` (at least one) with their true colour words, and its plan
    (``must_name``: see :func:`plan_caption`)."""
    plan = plan_caption(regions, rng, must_name=must_name)
    return render(plan, {r.label: r.word for r in regions}), plan


def is_held_out(name: str, *, every: int = 10) -> bool:
    """The deterministic held-out split of unlabelled photos: 1 in ``every`` file names by CRC-32."""
    return zlib.crc32(Path(name).name.encode()) % every == 0


def caption_rng(name: str, salt: int = 0) -> np.random.Generator:
    """A generator seeded by a file name (the same captions for an image on every run)."""
    return np.random.default_rng([zlib.crc32(Path(name).name.encode()), salt])


@dataclass(frozen=True)
class CaptionedImage:
    """The cache record of one image: its name, source (``stanford`` or a folder), split and
    whole-image regions; ``captions`` are synthesized from them with :func:`caption_rng`."""

    name: str
    source: str
    split: str
    regions: tuple[Region, ...]
    captions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "split": self.split,
                "regions": [r.to_dict() for r in self.regions], "captions": list(self.captions)}


def caption_plans(name: str, regions: Sequence[Region], count: int = 3) -> list[tuple[str, CaptionPlan]]:
    """``count`` deterministic ``(caption, plan)`` pairs of an image's regions (none without regions);
    the first is the one the benchmark uses."""
    if not regions:
        return []
    rng = caption_rng(name)
    return [synthesize(regions, rng) for _ in range(count)]


def captions_for(name: str, regions: Sequence[Region], count: int = 3) -> tuple[str, ...]:
    """The texts of :func:`caption_plans`."""
    return tuple(text for text, _ in caption_plans(name, regions, count))


def write_caption_cache(path: str | Path, images: Sequence[CaptionedImage], **meta: object) -> Path:
    """Write the captions of a run as JSON: vocabulary, colour prototypes, and every image."""
    from tinct.data.color_names import PROTOTYPES

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": 1, "vocabulary": list(VOCABULARY), "prototypes": PROTOTYPES, **meta,
           "images": [im.to_dict() for im in images]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_caption_cache(path: str | Path) -> list[CaptionedImage]:
    """The images of a cache written by :func:`write_caption_cache`."""
    doc = json.loads(Path(path).read_text())
    return [CaptionedImage(d["name"], d["source"], d["split"],
                           tuple(Region.from_dict(r) for r in d["regions"]), tuple(d["captions"]))
            for d in doc["images"]]
