"""tinct.io.decode / encode: the in-memory twins of read_image / write_image give the same values,
bytes and one-line errors (naming ``name``), and never touch the disk.

Split from ``test_io.py`` (which stays under 400 lines); the file tests' helpers are shared.
"""

from __future__ import annotations

import builtins
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_io import _png16, _ramp

from tinct import io as tio
from tinct.errors import TinctError


def _same(a: tio.ImageData, b: tio.ImageData) -> None:
    """Equal values, alpha, mode, bit depth and gray flag (``path`` differs by design)."""
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert (a.alpha is None) == (b.alpha is None)
    if a.alpha is not None:
        np.testing.assert_array_equal(a.alpha, b.alpha)
    assert (a.source_mode, a.bit_depth, a.is_gray_source) == (b.source_mode, b.bit_depth, b.is_gray_source)
    assert a.rgb.dtype == np.float32 and a.rgb.shape == b.rgb.shape


def _decode_error(data: bytes, name: str = "holiday photo.png", **kwargs: int) -> str:
    with pytest.raises(TinctError) as info:
        tio.decode(data, name=name, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    return message


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("fmt,bit_depth,channels,with_alpha", [
    ("png", 8, 3, False), ("png", 8, 1, False), ("png", 8, 3, True), ("png", 8, 1, True),
    ("png", 16, 3, False), ("png", 16, 1, False), ("png", 16, 3, True), ("png", 16, 1, True),
    ("tif", 8, 3, True), ("tiff", 16, 3, False), ("tif", 16, 1, False), ("jpg", 8, 3, False),
    ("jpeg", 8, 1, False), ("webp", 8, 3, True), ("webp", 8, 1, False), ("bmp", 8, 1, False),
])
def test_encode_decode_match_write_read(tmp_path: Path, fmt: str, bit_depth: int, channels: int,
                                        with_alpha: bool) -> None:
    image, alpha = _ramp(channels=channels), _ramp(channels=1, seed=5) if with_alpha else None
    kwargs = {"bit_depth": bit_depth, "alpha": alpha, "quality": 90}
    payload = tio.encode(image, format=fmt, **kwargs)
    path = tio.write_image(tmp_path / f"a.{fmt}", image, **kwargs)
    assert payload == path.read_bytes()  # the same encoder: byte for byte
    from_memory, from_file = tio.decode(payload, name=f"a.{fmt}"), tio.read_image(path)
    _same(from_memory, from_file)
    assert from_memory.path == Path(f"a.{fmt}") and from_memory.bit_depth == bit_depth
    if fmt in ("png", "tif", "tiff", "bmp"):  # lossless: the input comes back at its bit depth
        expected = image if channels == 3 else np.repeat(image[..., None], 3, axis=2)
        assert np.abs(from_memory.rgb - expected).max() <= 0.5 / (2**bit_depth - 1) + 1e-6
        if alpha is not None:
            assert np.abs(from_memory.alpha - alpha).max() <= 0.5 / (2**bit_depth - 1) + 1e-6


def test_16bit_png_keeps_16_bits_in_memory() -> None:
    image = _ramp()
    data = tio.decode(tio.encode(image, bit_depth=16))
    assert data.bit_depth == 16 and data.source_mode == "RGB" and data.path == Path("upload")
    np.testing.assert_array_equal(np.round(data.rgb.astype(np.float64) * 65535),
                                  np.round(image.astype(np.float64) * 65535))


def test_rgba_alpha_survives_memory_round_trip() -> None:
    image, alpha = np.round(_ramp() * 255) / 255, np.round(_ramp(channels=1, seed=2) * 255) / 255
    data = tio.decode(tio.encode(image, alpha=alpha))
    assert data.source_mode == "RGBA" and data.alpha is not None
    np.testing.assert_array_equal(np.round(data.rgb * 255), np.round(image * 255))  # not premultiplied
    np.testing.assert_array_equal(np.round(data.alpha * 255), np.round(alpha * 255))


def test_decode_matches_read_image_for_other_sources(tmp_path: Path) -> None:
    values = np.stack([np.arange(12).reshape(3, 4) * 5000 + 7, np.full((3, 4), 40000)], axis=2)
    _png16(tmp_path / "la16.png", values, colour_type=4)  # OpenCV path, gray + alpha
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray((_ramp(6, 10) * 255).astype(np.uint8)).save(tmp_path / "turned.jpg", exif=exif)
    Image.fromarray((_ramp(channels=1) * 255).astype(np.uint8)).convert("P").save(tmp_path / "p.gif")
    Image.fromarray(_ramp(channels=1) * 400 - 100, "F").save(tmp_path / "f.tif")
    for path in sorted(tmp_path.iterdir()):
        _same(tio.decode(path.read_bytes(), name=path.name), tio.read_image(path))
    assert tio.decode((tmp_path / "turned.jpg").read_bytes()).rgb.shape == (10, 6, 3)


def test_decode_accepts_any_bytes_like_object() -> None:
    payload = tio.encode(_ramp())
    reference = tio.decode(payload)
    _same(tio.decode(bytearray(payload)), reference)
    _same(tio.decode(memoryview(payload)), reference)


def test_decode_and_encode_use_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    image = _ramp()
    tio.decode(tio.encode(image, bit_depth=16))  # codecs and plugins loaded before the trap

    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a file was opened: {args}")

    for name in ("NamedTemporaryFile", "TemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, no_files)
    monkeypatch.setattr(builtins, "open", no_files)
    for bit_depth in (8, 16):
        data = tio.decode(tio.encode(image, bit_depth=bit_depth, alpha=image[..., 0]))
        assert data.bit_depth == bit_depth and data.alpha is not None


def test_decoded_bytes_are_not_protected_inputs(tmp_path: Path) -> None:
    target = tio.write_image(tmp_path / "same.png", np.zeros((4, 4)))
    tio.decode(target.read_bytes(), name=str(target))
    tio.write_image(target, np.ones((4, 4)))  # allowed: decode read no file
    assert tio.read_gray(target).min() == 1


# ------------------------------------------------------------------------------------ errors
def test_damaged_bytes_give_one_line_naming_the_name() -> None:
    full = tio.encode(_ramp(64, 64))
    assert "empty" in _decode_error(b"")
    assert "not an image" in _decode_error(b"hello, not an image\n")
    _decode_error(b"II*\x00" + b"\x00" * 20)  # a TIFF header with nothing behind it
    for keep in (0.5, 0.9):
        _decode_error(full[: int(len(full) * keep)])
    damaged = bytearray(full)
    damaged[len(damaged) // 2] ^= 0xFF
    assert "corrupt" in _decode_error(bytes(damaged), name="x.png")
    cut16 = tio.encode(_ramp(64, 64), bit_depth=16)
    _decode_error(cut16[: len(cut16) // 2], name="sixteen.png")  # the OpenCV path names it too


@pytest.mark.parametrize("fmt,bit_depth", [("jpg", 8), ("tif", 16), ("webp", 8), ("bmp", 8)])
def test_truncated_bytes_match_the_file_message(tmp_path: Path, fmt: str, bit_depth: int) -> None:
    cut = tio.encode(_ramp(64, 64), format=fmt, bit_depth=bit_depth)[:300]
    (tmp_path / "cut").write_bytes(cut)
    with pytest.raises(TinctError) as from_file:
        tio.read_image(tmp_path / "cut")
    message = _decode_error(cut, name="cut")
    assert message == str(from_file.value).replace(str(tmp_path / "cut"), "cut")


def test_max_pixels_is_refused_from_the_header() -> None:
    payload = tio.encode(np.zeros((100, 120)))
    message = _decode_error(payload, name="big.png", max_pixels=10_000)
    assert "100" in message and "12,000" in message and "10,000" in message and "--max-pixels" in message
    assert "--max-pixels" in _decode_error(payload, name="big.png", max_pixels=1_000)  # Pillow's bomb error
    assert tio.decode(payload, max_pixels=12_000).rgb.shape == (100, 120, 3)
    sixteen = tio.encode(np.zeros((100, 120, 3)), bit_depth=16)
    assert "12,000" in _decode_error(sixteen, name="big16.png", max_pixels=10_000)
    with pytest.raises(TinctError, match="max_pixels must be a positive"):
        tio.decode(payload, max_pixels=0)


def test_encode_errors_name_the_format() -> None:
    image = np.zeros((4, 4, 3))
    with pytest.raises(TinctError, match=r"encode\(format='gif'\): unknown image format; use one of bmp"):
        tio.encode(image, format="gif")
    with pytest.raises(TinctError, match="8 bits"):
        tio.encode(image, format="jpg", bit_depth=16)
    with pytest.raises(TinctError, match="transparency"):
        tio.encode(image, format="bmp", alpha=np.ones((4, 4)))
    with pytest.raises(TinctError, match="quality"):
        tio.encode(image, format="jpg", quality=0)
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        tio.encode(np.zeros((4, 4, 2)))
    assert tio.encode(image, format=".PNG") == tio.encode(image)
