"""Photos with region labels, and training batches of crops with captions of what each crop shows.

Two sources: Stanford Background (true labels; its ``split_train.txt`` / ``split_val.txt``) and
folders of unlabelled photos labelled by deepcolor's scene parser (the frozen parser of
:class:`tinct.methods.fusion.scene.SceneHistogram`, run on the luma at 160 px and upsampled
nearest; its label maps are cached in the run folder as ``parser_labels.npz``). The parser's class
may be wrong ("water" for a wet road), but a region's colour word is always measured on its
pixels, so the words stay true to the photo.

Crops cut regions out, so a crop's caption is synthesized from the regions **inside the crop**
(each >= 5 % of it, colours measured on the crop), not from the whole image's caption.

**Counterfactual colours** (:func:`recolor`): captions made from true colours mostly restate what
the picture's content already predicts ("blue sky, green grass"), so a network can score well while
ignoring the words. With probability ``p_recolor`` a captioned crop gets one region recoloured in
its *target* (never its luma): the region's chroma is moved so that its median is the median colour
of a real training region named another word (a word reachable at the region's lightness, a region
of similar lightness: :class:`ColourBank`), and the caption is synthesized from the recoloured
crop, always naming the recoloured region (a recolour the caption does not mention is
unexplained noise in the target: the first runs had that in ~40 % of recoloured crops), so it
names the new colour. This is our addition, not Manjunatha et al.'s
(they train on COCO's human captions); see docs/methods/caption.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from tinct.data.captions import is_held_out, synthesize, tokenize
from tinct.data.color_names import COLOR_WORDS, PROTOTYPES, Region, image_regions, reachable
from tinct.errors import TinctError

from .model import batch_tokens

STANFORD = "stanford"


@dataclass
class LabelledPhoto:
    """A colour photo and its class map.

    Attributes:
        name: file name (unique per source).
        source: ``"stanford"`` or the folder it came from.
        split: ``"train"`` or ``"val"``.
        rgb: uint8 ``(H, W, 3)`` RGB, long side <= the loader's ``max_side``.
        labels: uint8 ``(H, W)`` class map (0..7, 255 = unknown).
    """

    name: str
    source: str
    split: str
    rgb: np.ndarray
    labels: np.ndarray


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    return rgb if s == 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def load_stanford(root: str | Path, split: str, *, max_side: int = 320, limit: int | None = None
                  ) -> list[LabelledPhoto]:
    """Stanford Background ``split`` ("train" / "val") with its true labels."""
    from tinct.data.stanford_background import downscale_pair, load_split, split_ids

    images, labels = load_split(root, split, scale=1.0, limit=limit)
    out = []
    for ident, rgb, lab in zip(split_ids(root, split), images, labels, strict=False):
        s = min(1.0, max_side / max(lab.shape))
        if s < 1.0:
            rgb, lab = downscale_pair(rgb, lab, s)
        out.append(LabelledPhoto(f"{ident}.jpg", STANFORD, split, _to_uint8(rgb), lab))
    return out


class ParserLabeller:
    """deepcolor's frozen scene parser: ``__call__(rgb uint8 (H, W, 3)) -> labels uint8 (H, W)``."""

    def __init__(self) -> None:
        from tinct.methods.fusion.scene import PARSER_SIZE, SceneHistogram

        self.parser = SceneHistogram().parser.eval()
        self.size = PARSER_SIZE

    @torch.no_grad()
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from tinct.color import rgb_to_luma

        h, w = rgb.shape[:2]
        small = _shrink(rgb, self.size).astype(np.float32) / 255.0
        x = torch.from_numpy(rgb_to_luma(small).astype(np.float32))[None, None]
        labels = self.parser(x)[0].argmax(0).numpy().astype(np.uint8)
        return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)


def load_parsed(folders: list[str | Path], split: str, *, max_side: int = 320, limit: int | None = None,
                cache: str | Path | None = None, progress: bool = False) -> list[LabelledPhoto]:
    """The colour photos of ``folders`` in ``split`` (:func:`tinct.data.captions.is_held_out`: "val"),
    labelled by the scene parser; label maps are read from / added to the ``cache`` ``.npz``."""
    from tinct.io import is_color, list_images, read_rgb

    paths = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise TinctError(f"photo folder not found: {folder}")
        paths += [p for p in list_images(folder) if is_held_out(p.name) == (split == "val")]
    paths = paths[:limit] if limit else paths
    cached: dict[str, np.ndarray] = {}
    if cache is not None and Path(cache).is_file():
        with np.load(cache) as z:
            cached = {k: z[k] for k in z.files}
    labeller = None
    out, added = [], False
    for path in tqdm(paths, desc=f"labelling photos ({split})", disable=not progress, leave=False):
        rgb = read_rgb(path)
        if not is_color(rgb):
            continue
        rgb = _to_uint8(_shrink(rgb, max_side))
        key = f"{Path(path).parent.name}/{Path(path).name}"
        labels = cached.get(key)
        if labels is None or labels.shape != rgb.shape[:2]:
            labeller = labeller or ParserLabeller()
            labels = cached[key] = labeller(rgb)
            added = True
        out.append(LabelledPhoto(Path(path).name, str(Path(path).parent), split, rgb, labels))
    if cache is not None and added:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **cached)
        tmp.replace(cache)
    return out


def random_crop_pair(rgb: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator,
                     min_scale: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The same random square of ``rgb`` (uint8) and ``labels``: ``min_scale``..1 of the short side,
    resized to ``size`` (area / nearest), flipped left-right half the time. Returns float32
    ``(size, size, 3)`` RGB in [0, 1] and uint8 ``(size, size)`` labels."""
    h, w = labels.shape
    short = min(h, w)
    lo = min(short, max(int(min_scale * short), min(size, short)))
    side = int(rng.integers(lo, short + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    img = cv2.resize(rgb[y:y + side, x:x + side], (size, size),
                     interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    lab = cv2.resize(labels[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_NEAREST)
    if rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    return np.ascontiguousarray(img, np.float32) / 255.0, np.ascontiguousarray(lab)


ACHROMATIC_KEEP = 0.2
"""Share of a region's chroma (around its median) kept when it is recoloured black, white or gray."""


class ColourBank:
    """Median Lab colours of real training regions by colour word: ``sample(word, L, rng)`` gives the
    ab of a region named ``word`` whose lightness is within ``tolerance`` of ``L`` (the word's
    prototype when there is none), so counterfactual colours look like colours that occur; ``pull``
    in [0, 1] moves a drawn ab that share of the way to the word's prototype ab, away from the
    neighbouring words."""

    def __init__(self, regions: list[Region], tolerance: float = 10.0, pull: float = 0.0) -> None:
        self.tolerance, self.pull = tolerance, pull
        self.by_word = {w: np.array([r.lab for r in regions if r.word == w], np.float32).reshape(-1, 3)
                        for w in COLOR_WORDS}

    def sample(self, word: str, lightness: float, rng: np.random.Generator) -> np.ndarray | None:
        """ab ``(2,)`` of a random region named ``word`` near ``lightness``; None for achromatic
        words without a prototype when the bank has none."""
        labs = self.by_word.get(word, np.zeros((0, 3), np.float32))
        near = labs[np.abs(labs[:, 0] - lightness) <= self.tolerance]
        if len(near):
            ab = near[int(rng.integers(len(near)))][1:]
            if self.pull:
                ab = (1.0 - self.pull) * ab + self.pull * np.asarray(PROTOTYPES[word][1:], np.float32)
            return ab
        return np.asarray(PROTOTYPES[word][1:], np.float32) if word in PROTOTYPES else None


def recolor(lab: np.ndarray, labels: np.ndarray, region: Region, word: str,
            target_ab: np.ndarray | None = None) -> np.ndarray:
    """A copy of Lab ``(h, w, 3)`` whose pixels of ``region`` (``labels == region.label``) have their
    ab moved so that the region's median ab is ``target_ab`` (default: ``word``'s prototype) for
    chromatic words, or shrunk to :data:`ACHROMATIC_KEEP` of their spread around 0 (black, white,
    gray, without a ``target_ab``); L is unchanged."""
    out = lab.copy()
    mask = labels == region.label
    ab = out[..., 1:][mask]
    median = np.asarray(region.lab[1:], np.float32)
    if target_ab is None and word in PROTOTYPES:
        target_ab = np.asarray(PROTOTYPES[word][1:], np.float32)
    if target_ab is not None:
        ab += np.asarray(target_ab, np.float32) - median
    else:
        ab = (ab - median) * ACHROMATIC_KEEP
    out[..., 1:][mask] = ab
    return out


def crop_caption(lab: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *,
                 p_empty: float = 0.15, p_recolor: float = 0.0, bank: ColourBank | None = None,
                 min_fraction: float = 0.05, recolor_regions: int = 1) -> tuple[str, np.ndarray]:
    """A caption of the regions inside one crop (Lab ``(h, w, 3)``, labels ``(h, w)``) and the crop's
    Lab target: ``("", lab)`` (the empty caption) with probability ``p_empty`` or when no region is
    large enough; otherwise, with probability ``p_recolor``, 1..``recolor_regions`` random regions
    are first recoloured, each to a different word reachable at its lightness (:func:`recolor`; the
    colour drawn from ``bank``, else the word's prototype), and the caption describes that, always
    naming the recoloured regions."""
    if rng.random() < p_empty:
        return "", lab
    regions = image_regions(lab, labels, min_fraction=min_fraction)
    if not regions:
        return "", lab
    named: list[int] = []
    if rng.random() < p_recolor:
        count = 1 if recolor_regions == 1 else 1 + int(rng.integers(min(recolor_regions, len(regions))))
        picks = [int(rng.integers(len(regions)))] if count == 1 else rng.permutation(len(regions))[:count]
        used: set[str] = set()
        for i in picks:
            region = regions[i]
            words = [w for w in COLOR_WORDS if w != region.word and w not in used
                     and reachable(w, region.lab[0])]
            if words:
                word = str(rng.choice(words))
                used.add(word)
                target = bank.sample(word, region.lab[0], rng) if bank is not None else None
                lab = recolor(lab, labels, region, word, target)
                named.append(region.label)
        if named:
            regions = image_regions(lab, labels, min_fraction=min_fraction)
            named = [k for k in named if any(r.label == k for r in regions)]
    return synthesize(regions, rng, must_name=named)[0], lab


class CaptionBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless batches of random crops with their
    captions, reseeded from ``seed`` and the start step (a resumed run continues its sequence).

    Each batch: ``luma`` ``(N, 1, S, S)`` in [0, 1], ``ab`` ``(N, 2, S, S)`` Lab, ``tokens``
    ``(N, T)`` int64, ``lengths`` ``(N,)``, ``captions`` (the texts, for logs and tests) and, when
    ``recolor_weight`` is not 1, ``pixel_weight`` ``(N, 1, S, S)``: ``recolor_weight`` on the
    recoloured pixels, 1 elsewhere (the loss then counts the words' counterfactual colours more).
    """

    def __init__(self, photos: list[LabelledPhoto], *, crop: int, batch_size: int, seed: int,
                 p_empty: float = 0.15, p_recolor: float = 0.0, bank: ColourBank | None = None,
                 recolor_regions: int = 1, recolor_weight: float = 1.0) -> None:
        if not photos:
            raise TinctError("no labelled training photos")
        self.photos, self.crop, self.batch_size = photos, crop, batch_size
        self.seed, self.p_empty, self.p_recolor, self.bank = seed, p_empty, p_recolor, bank
        self.recolor_regions, self.recolor_weight = recolor_regions, recolor_weight

    def __call__(self, start: int) -> Iterator[dict]:
        from tinct.color import rgb_to_lab, rgb_to_luma

        rng = np.random.default_rng([self.seed, start])
        while True:
            lumas, abs_, texts, weights = [], [], [], []
            for i in rng.integers(0, len(self.photos), self.batch_size):
                rgb, labels = random_crop_pair(self.photos[i].rgb, self.photos[i].labels, self.crop, rng)
                true = rgb_to_lab(rgb).astype(np.float32)
                text, lab = crop_caption(true, labels, rng, p_empty=self.p_empty, p_recolor=self.p_recolor,
                                         bank=self.bank, recolor_regions=self.recolor_regions)
                if self.recolor_weight != 1.0:
                    recoloured = np.any(lab[..., 1:] != true[..., 1:], axis=-1).astype(np.float32)[None]
                    weights.append(1.0 + (self.recolor_weight - 1.0) * recoloured)
                texts.append(text)
                lumas.append(rgb_to_luma(rgb).astype(np.float32)[None])
                abs_.append(lab[..., 1:].transpose(2, 0, 1))
            tokens, lengths = batch_tokens([tokenize(t)[0] for t in texts])
            batch = {"luma": torch.from_numpy(np.stack(lumas)), "ab": torch.from_numpy(np.stack(abs_)),
                     "tokens": tokens, "lengths": lengths, "captions": texts}
            if self.recolor_weight != 1.0:
                batch["pixel_weight"] = torch.from_numpy(np.stack(weights))
            yield batch
