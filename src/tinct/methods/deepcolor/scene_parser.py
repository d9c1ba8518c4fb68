"""Scene parser for the semantic feature (Cheng et al. Sec. III-B.3, Table I).

The paper retrains the FCN of Long et al. on grayscale SIFT Flow (33 classes). We have
Stanford Background (Gould et al. 2009, 8 classes: sky, tree, road, grass, water, building,
mountain, foreground), so the parser is a small encoder-decoder FCN with skip connections and a
global-context branch, trained through :func:`tinct.train.fit` on grayscale (or colour) images at
half resolution (about 160x120).

Shapes: the network maps ``(B, C, H, W)`` images in [0, 1] (C = 1 gray or 3 RGB) to
``(B, K, H, W)`` logits, ``K = 8``; any H, W (padded internally to a multiple of 8).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tinct.color import rgb_to_luma
from tinct.train import StepCounter, optimizer_step, set_cosine_lr

CLASSES = ("sky", "tree", "road", "grass", "water", "building", "mountain", "foreground")
IGNORE = 255


@dataclass
class ParserConfig:
    """Scene-parser architecture."""

    in_channels: int = 1
    num_classes: int = len(CLASSES)
    widths: tuple[int, ...] = (16, 32, 48, 64)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SceneParser(nn.Module):
    """U-Net-like FCN: 4 levels, skip connections, image-level context added at the bottleneck."""

    def __init__(self, config: ParserConfig | None = None) -> None:
        super().__init__()
        self.config = config or ParserConfig()
        w = self.config.widths
        self.enc = nn.ModuleList(
            [_block(self.config.in_channels, w[0])] + [_block(w[i - 1], w[i]) for i in range(1, len(w))]
        )
        self.context = nn.Sequential(nn.Linear(w[-1], w[-1]), nn.ReLU(inplace=True))
        self.dec = nn.ModuleList([_block(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1))])
        self.head = nn.Conv2d(w[0], self.config.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] -> logits ``(B, K, H, W)``."""
        h, w = x.shape[-2:]
        m = 2 ** (len(self.enc) - 1)
        ph, pw = (-h) % m, (-w) % m
        x = F.pad(x - 0.5, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = x + self.context(x.mean(dim=(2, 3)))[:, :, None, None]
        for block, skip in zip(self.dec, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)[..., :h, :w]


def to_input(rgb: np.ndarray, in_channels: int) -> np.ndarray:
    """``(H, W, 3)`` RGB in [0, 1] -> ``(C, H, W)`` float32 parser input (BT.601 luma if C = 1)."""
    if in_channels == 1:
        return rgb_to_luma(np.asarray(rgb, dtype=np.float32))[None]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)


class ParserTrainable(StepCounter):
    """:class:`tinct.train.Trainable` for the parser: cross-entropy (ignore 255), AdamW, cosine LR."""

    def __init__(
        self,
        model: SceneParser,
        *,
        lr: float = 3e-3,
        total_steps: int = 1000,
        weight_decay: float = 1e-4,
        time_budget_s: float | None = None,
    ) -> None:
        self.model = model
        # on a shared machine the budget, not the step count, may end the run: anneal by whichever
        # of the two is further along
        self.time_budget_s = time_budget_s
        self._t0: float | None = None
        self.lr = lr
        self.total_steps = max(1, total_steps)
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.step = 0
        self.modules = {"model": model}
        self.optimizers = {"opt": self.opt}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        x, y = batch
        self._t0 = self._t0 or time.perf_counter()
        frac = self.step / self.total_steps
        if self.time_budget_s:
            frac = max(frac, (time.perf_counter() - self._t0) / self.time_budget_s)
        set_cosine_lr(self.opt, self.lr, frac)
        self.model.train()
        loss = optimizer_step(self.opt, F.cross_entropy(self.model(x), y, ignore_index=IGNORE))
        self.step += 1
        return {"ce": loss}


def crop_batches(
    images: list[np.ndarray], labels: list[np.ndarray], *, batch_size: int = 8, crop: int = 96, seed: int = 0
) -> callable:
    """``batches(start)`` factory for :func:`tinct.train.fit`: random crops + horizontal flips.

    ``images``: ``(C, H, W)`` float32 arrays; ``labels``: ``(H, W)`` uint8 (255 = ignore), each at
    least ``crop`` pixels on both sides.
    """

    def batches(start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([seed, start])
        while True:
            xs, ys = [], []
            for i in rng.integers(0, len(images), batch_size):
                img, lab = _pad_to(images[i], labels[i], crop)
                y0 = rng.integers(0, lab.shape[0] - crop + 1)
                x0 = rng.integers(0, lab.shape[1] - crop + 1)
                xc, yc = img[:, y0 : y0 + crop, x0 : x0 + crop], lab[y0 : y0 + crop, x0 : x0 + crop]
                if rng.random() < 0.5:
                    xc, yc = xc[:, :, ::-1], yc[:, ::-1]
                # brightness/contrast jitter so the parser copes with any tone curve
                gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-0.08, 0.08)
                xs.append(np.clip(xc * gain + bias, 0, 1))
                ys.append(yc)
            yield (
                torch.from_numpy(np.stack(xs).astype(np.float32)),
                torch.from_numpy(np.stack(ys).astype(np.int64)),
            )

    return batches


def _pad_to(img: np.ndarray, lab: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad a ``(C, H, W)`` image (edge) and its label (ignore) so both sides are >= ``size``."""
    ph, pw = max(0, size - lab.shape[0]), max(0, size - lab.shape[1])
    if ph == 0 and pw == 0:
        return img, lab
    img = np.pad(img, ((0, 0), (0, ph), (0, pw)), mode="edge")
    return img, np.pad(lab, ((0, ph), (0, pw)), constant_values=IGNORE)


@torch.no_grad()
def predict_logits(model: SceneParser, x: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` float32 in [0, 1] -> logits ``(K, H, W)`` float32."""
    model.eval()
    return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None])[0].numpy()


def pixel_accuracy(model: SceneParser, images: list[np.ndarray], labels: list[np.ndarray]) -> float:
    """Pixel accuracy over all labelled pixels (label != 255); images and labels at the same size."""
    correct = total = 0
    for img, lab in zip(images, labels, strict=True):
        pred = predict_logits(model, img).argmax(0)
        valid = lab != IGNORE
        correct += int((pred[valid] == lab[valid]).sum())
        total += int(valid.sum())
    return correct / max(total, 1)


def parser_tensors(model: SceneParser) -> dict[str, torch.Tensor]:
    """State dict with a ``parser.`` prefix, BatchNorm buffers included (for safetensors)."""
    return {f"parser.{k}": v.float() for k, v in model.state_dict().items() if v.dtype != torch.int64}


def parser_from_tensors(tensors: dict[str, torch.Tensor], config: ParserConfig) -> SceneParser:
    """Inverse of :func:`parser_tensors`."""
    model = SceneParser(config)
    state = {k[len("parser.") :]: v for k, v in tensors.items() if k.startswith("parser.")}
    missing, _ = model.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.endswith("num_batches_tracked")]
    if bad:
        raise KeyError(f"parser weights missing {bad[:3]}")
    return model.eval()


def config_dict(config: ParserConfig) -> dict:
    """JSON-able config."""
    return asdict(config)
