import numpy as np
import pytest

import tinct
from tinct.errors import TinctError
from tinct.hints import hints_from_image, hints_to_image


def test_gray_floor_keeps_luma(small_rgb):
    gray = small_rgb.mean(axis=2)
    out = tinct.colorize(gray, method="gray")
    assert out.shape == (*gray.shape, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 1], out[..., 2])


def test_unknown_method_lists_known():
    with pytest.raises(TinctError, match="known methods: .*gray"):
        tinct.load_method("nope")


def test_bad_gray_shape_is_clear():
    with pytest.raises(TinctError, match=r"must be \(H, W\)"):
        tinct.colorize(np.zeros((4, 4, 3)), method="gray")
    with pytest.raises(TinctError, match="NaN"):
        tinct.colorize(np.full((4, 4), np.nan), method="gray")


def test_every_registered_method_has_info():
    infos = tinct.list_methods()
    assert any(i.name == "gray" for i in infos)
    for info in infos:
        assert info.summary and info.paper
        assert info.needs <= info.accepts <= {"reference", "hints", "caption"}
        assert info.modality in {"luma", "nir", "lineart"}


def test_hints_roundtrip_ignores_gray_and_transparent():
    gray = np.full((5, 6), 0.5, np.float32)
    img = np.repeat(gray[..., None], 3, axis=2)
    img[1, 2] = (1.0, 0.0, 0.0)
    img[3, 4] = (0.2, 0.2, 0.2)  # a gray stroke that differs from the input counts
    rgba = np.concatenate([img, np.ones((5, 6, 1), np.float32)], axis=2)
    rgba[3, 4, 3] = 0.0  # ...unless it is fully transparent
    h = hints_from_image(img, gray)
    assert h.mask.sum() == 2 and h.mask[1, 2] and h.mask[3, 4]
    h2 = hints_from_image(rgba, gray)
    assert h2.mask.sum() == 1
    np.testing.assert_array_equal(hints_to_image(h, gray), img)
    with pytest.raises(TinctError, match="same size"):
        hints_from_image(img[:4], gray)


def test_cosine_lr_endpoints_and_optimizer_step():
    import torch

    from tinct.train import optimizer_step, set_cosine_lr

    w = torch.nn.Parameter(torch.tensor([3.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    set_cosine_lr(opt, 0.1, 0.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    set_cosine_lr(opt, 0.1, 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * (0.05 + 0.95 * 0.5))
    set_cosine_lr(opt, 0.1, 2.0)  # clamped: the floor
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    loss = optimizer_step(opt, (w ** 2).sum())
    assert loss == pytest.approx(9.0) and w.item() == pytest.approx(3.0 - 0.005 * 6.0)


def test_warmup_lr_is_linear_then_flat():
    import torch

    from tinct.train import set_warmup_lr

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    lrs = []
    for step in (1, 50, 100, 101, 1000):
        set_warmup_lr(opt, 2e-3, step, warmup=100)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([2e-5, 1e-3, 2e-3, 2e-3, 2e-3])


def test_schedule_warms_up_then_decays_to_the_cosine_floor():
    import torch

    from tinct.train import set_schedule_lr

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    lrs = []
    for step in (1, 10, 55, 100, 200):
        set_schedule_lr(opt, 1.0, step, warmup=10, total_steps=100)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.1, 1.0, 0.525, 0.05, 0.05])


def test_every_method_package_registers_its_own_name() -> None:
    import importlib

    from tinct.methods import PACKAGES
    from tinct.registry import list_methods

    for package in PACKAGES:
        importlib.import_module(f"tinct.methods.{package}")
    assert sorted(p.replace("_", "-") for p in PACKAGES) == [m.name for m in list_methods()]


def test_a_hyphenated_method_imports_only_its_package() -> None:
    """``nir-unet`` lives in package ``nir_unet``: asking for it must not import every method."""
    import subprocess
    import sys

    code = ("import sys, tinct; tinct.method_info('nir-snet'); "
            "print(sorted(m for m in sys.modules if m.startswith('tinct.methods.') and m.count('.') == 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['tinct.methods.nir_snet', 'tinct.methods.nir_unet']"


def test_asking_for_one_method_imports_only_its_package() -> None:
    """``tinct colorize --method reinhard`` must not pay for torch (over a second to import)."""
    import subprocess
    import sys

    code = ("import sys, tinct; from tinct.registry import load_method; load_method('reinhard'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
