"""Shared fixtures: tiny synthetic images and the optional ../shared/data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinct  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before any test module loads torch)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_rgb(rng: np.random.Generator) -> np.ndarray:
    """A smooth 48x64 colour image, float32 (H, W, 3) in [0, 1]."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(x / 9), 0.5 + 0.4 * np.cos(y / 7), (x + y) / 110.0], axis=2)
    return np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1).astype(np.float32)
