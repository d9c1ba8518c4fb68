"""tinct.io: round trips per format and bit depth, every source mode, EXIF, errors, atomic writes.

decode / encode (the in-memory twins) are tested in ``test_io_memory.py``, which shares the helpers.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from tinct import io as tio
from tinct.errors import TinctError
from tinct.io import read as tio_read


def _ramp(h: int = 20, w: int = 30, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.random(shape).astype(np.float32)


def _png16(path: Path, values: np.ndarray, colour_type: int) -> None:
    """A hand-made 16-bit PNG (colour type 4 = gray+alpha has no other encoder here)."""
    height, width = values.shape[:2]
    raw = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_8bit_lossless_round_trip_is_exact(tmp_path: Path, suffix: str, channels: int) -> None:
    image = np.round(_ramp(channels=channels) * 255) / 255
    out = tio.write_image(tmp_path / f"a{suffix}", image)
    data = tio.read_image(out)
    expected = image if channels == 3 else np.repeat(image[..., None], 3, axis=2)
    assert data.rgb.dtype == np.float32 and data.rgb.shape == (20, 30, 3)
    np.testing.assert_array_equal(np.round(data.rgb * 255), np.round(expected * 255))
    assert data.bit_depth == 8 and data.is_gray_source == (channels == 1) and data.alpha is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_round_trip_is_exact_at_16_bits(tmp_path: Path, suffix: str, channels: int) -> None:
    image = _ramp(channels=channels)
    out = tio.write_image(tmp_path / f"a{suffix}", image, bit_depth=16)
    data = tio.read_image(out)
    expected = image if channels == 3 else np.repeat(image[..., None], 3, axis=2)
    assert data.bit_depth == 16
    np.testing.assert_array_equal(np.round(data.rgb.astype(np.float64) * 65535),
                                  np.round(expected.astype(np.float64) * 65535))
    assert np.abs(data.rgb - expected).max() < 1 / 65535


def test_16bit_rgb_png_keeps_more_than_8_bits_and_channel_order(tmp_path: Path) -> None:
    values = np.zeros((2, 3, 3), np.uint16)
    values[..., 0] = 1000  # red, a value that is not a multiple of 257
    cv2.imwrite(str(tmp_path / "red.png"), values[..., ::-1])  # OpenCV wants BGR
    rgb = tio.read_rgb(tmp_path / "red.png")
    np.testing.assert_allclose(rgb[0, 0], [1000 / 65535, 0, 0], atol=1e-7)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_alpha_round_trip(tmp_path: Path, suffix: str) -> None:
    image, alpha = _ramp(), _ramp(channels=1, seed=1)
    data = tio.read_image(tio.write_image(tmp_path / f"a{suffix}", image, bit_depth=16, alpha=alpha))
    assert data.source_mode == "RGBA" and data.bit_depth == 16
    assert np.abs(data.rgb - image).max() < 1 / 65535 and np.abs(data.alpha - alpha).max() < 1 / 65535


def test_16bit_gray_alpha_png(tmp_path: Path) -> None:
    values = np.stack([np.arange(12).reshape(3, 4) * 5000 + 7, np.full((3, 4), 40000)], axis=2)
    _png16(tmp_path / "la.png", values, colour_type=4)
    data = tio.read_image(tmp_path / "la.png")
    assert data.source_mode == "LA" and data.bit_depth == 16 and data.is_gray_source
    np.testing.assert_allclose(data.rgb[..., 1], values[..., 0] / 65535, atol=1e-7)
    np.testing.assert_allclose(data.alpha, 40000 / 65535, atol=1e-7)


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_lossy_round_trip_is_close(tmp_path: Path, suffix: str, small_rgb: np.ndarray) -> None:
    rgb = tio.read_rgb(tio.write_image(tmp_path / f"a{suffix}", small_rgb, quality=95))
    assert rgb.shape == small_rgb.shape
    assert np.abs(rgb - small_rgb).mean() < 0.02


def test_jpeg_quality_changes_size(tmp_path: Path, small_rgb: np.ndarray) -> None:
    low = tio.write_image(tmp_path / "low.jpg", small_rgb, quality=10).stat().st_size
    high = tio.write_image(tmp_path / "high.jpg", small_rgb, quality=95).stat().st_size
    assert low < high


def test_gray_alpha_8bit_round_trip(tmp_path: Path) -> None:
    gray, alpha = np.round(_ramp(channels=1) * 255) / 255, np.round(_ramp(channels=1, seed=2) * 255) / 255
    data = tio.read_image(tio.write_image(tmp_path / "la.png", gray, alpha=alpha))
    assert data.source_mode == "LA" and data.is_gray_source
    np.testing.assert_allclose(data.rgb[..., 2], gray, atol=1e-6)
    np.testing.assert_allclose(data.alpha, alpha, atol=1e-6)


# ------------------------------------------------------------------------------------ source modes
def test_one_bit_image(tmp_path: Path) -> None:
    bits = _ramp(channels=1) > 0.5
    Image.fromarray(bits).convert("1").save(tmp_path / "b.png")
    data = tio.read_image(tmp_path / "b.png")
    assert data.source_mode == "1" and data.bit_depth == 1 and data.is_gray_source
    np.testing.assert_array_equal(data.rgb[..., 0], bits.astype(np.float32))


def test_palette_without_and_with_transparency(tmp_path: Path) -> None:
    rgb = (np.round(_ramp(4, 5) * 3) * 85).astype(np.uint8)  # few colours: an exact palette
    image = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    image.save(tmp_path / "p.png")
    data = tio.read_image(tmp_path / "p.png")
    assert data.source_mode == "P" and data.alpha is None and not data.is_gray_source
    np.testing.assert_array_equal(np.round(data.rgb * 255), np.asarray(image.convert("RGB")))
    index = int(np.asarray(image)[0, 0])
    image.save(tmp_path / "pt.png", transparency=index)
    data = tio.read_image(tmp_path / "pt.png")
    assert data.alpha is not None and data.alpha[0, 0] == 0 and data.alpha.max() == 1


def test_gray_palette_is_a_gray_source(tmp_path: Path) -> None:
    Image.fromarray((_ramp(channels=1) * 255).astype(np.uint8)).convert("P").save(tmp_path / "g.gif")
    assert tio.read_image(tmp_path / "g.gif").is_gray_source


def test_rgba_8bit(tmp_path: Path) -> None:
    values = (_ramp(channels=4) * 255).astype(np.uint8)
    Image.fromarray(values, "RGBA").save(tmp_path / "a.png")
    data = tio.read_image(tmp_path / "a.png")
    assert data.source_mode == "RGBA" and not data.is_gray_source
    np.testing.assert_array_equal(np.round(data.rgb * 255), values[..., :3])  # not premultiplied
    np.testing.assert_array_equal(np.round(data.alpha * 255), values[..., 3])


def test_cmyk_is_converted_naively(tmp_path: Path) -> None:
    cmyk = np.zeros((4, 4, 4), np.uint8)
    cmyk[..., 0] = 255  # full cyan -> RGB (0, 255, 255) by Pillow's naive formula
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.tif")
    data = tio.read_image(tmp_path / "c.tif")
    assert data.source_mode == "CMYK"
    np.testing.assert_allclose(data.rgb[0, 0], [0, 1, 1])


def test_float_and_int32_images_are_scaled(tmp_path: Path) -> None:
    inside = _ramp(channels=1)
    Image.fromarray(inside, "F").save(tmp_path / "f.tif")
    data = tio.read_image(tmp_path / "f.tif")
    assert data.source_mode == "F" and data.bit_depth == 32
    np.testing.assert_allclose(data.rgb[..., 0], inside)  # already in [0, 1]: unchanged
    outside = inside * 400 - 100
    Image.fromarray(outside, "F").save(tmp_path / "g.tif")
    gray = tio.read_gray(tmp_path / "g.tif")
    np.testing.assert_allclose(gray, (outside - outside.min()) / np.ptp(outside), atol=1e-6)
    ints = (inside * 60000).astype(np.int32)
    Image.fromarray(ints, "I").save(tmp_path / "i.tif")
    np.testing.assert_allclose(tio.read_gray(tmp_path / "i.tif"), ints / 65535, atol=1e-7)


def test_read_gray_is_bt601_luma_and_exact_for_gray(tmp_path: Path) -> None:
    rgb = np.round(_ramp() * 255) / 255
    gray = tio.read_gray(tio.write_image(tmp_path / "c.png", rgb))
    np.testing.assert_allclose(gray, rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-5)
    g = _ramp(channels=1)
    np.testing.assert_array_equal(tio.read_gray(tio.write_image(tmp_path / "g.png", g, bit_depth=16)),
                                  (np.round(g.astype(np.float64) * 65535) / 65535).astype(np.float32))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    image = Image.fromarray((_ramp(6, 10) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(tmp_path / "o.png", exif=exif)  # PNG: lossless, so the pixels compare exactly
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")).convert("RGB"))
    np.testing.assert_array_equal(np.round(tio.read_rgb(tmp_path / "o.png") * 255), expected)


def test_jpeg_orientation_6_turns_the_image(tmp_path: Path) -> None:
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(image).save(tmp_path / "o.jpg", exif=exif, quality=95)
    rgb = tio.read_rgb(tmp_path / "o.jpg")
    assert rgb.shape == (40, 20, 3)
    assert rgb[:15].mean() > 0.9 and rgb[25:].mean() < 0.1  # the white half is now on top


# ------------------------------------------------------------------------------------ errors
def _error(path: Path, **kwargs: int) -> str:
    with pytest.raises(TinctError) as info:
        tio.read_image(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "missing.png")
    assert "directory" in _error(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in _error(tmp_path / "empty.png")
    (tmp_path / "notes.png").write_text("hello, not an image\n")
    assert "not an image" in _error(tmp_path / "notes.png")
    (tmp_path / "fake.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    _error(tmp_path / "fake.tif")


@pytest.mark.parametrize("suffix,bit_depth", [(".png", 8), (".png", 16), (".jpg", 8), (".tif", 16),
                                              (".webp", 8), (".bmp", 8)])
def test_truncated_files_are_detected(tmp_path: Path, suffix: str, bit_depth: int) -> None:
    full = tio.write_image(tmp_path / f"full{suffix}", _ramp(64, 64), bit_depth=bit_depth).read_bytes()
    for keep in (0.5, 0.9):
        cut = tmp_path / f"cut{int(keep * 10)}{suffix}"
        cut.write_bytes(full[: int(len(full) * keep)])
        _error(cut)


def test_corrupt_png_crc_is_detected(tmp_path: Path) -> None:
    data = bytearray(tio.write_image(tmp_path / "a.png", _ramp(32, 32)).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.png").write_bytes(bytes(data))
    _error(tmp_path / "bad.png")


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    tio.write_image(tmp_path / "big.png", np.zeros((100, 120)))
    message = _error(tmp_path / "big.png", max_pixels=10_000)
    assert "12,000" in message and "10,000" in message and "--max-pixels" in message
    assert tio.read_rgb(tmp_path / "big.png", max_pixels=12_000).shape == (100, 120, 3)
    # far over the limit: Pillow's own bomb error is turned into the same kind of message
    assert "--max-pixels" in _error(tmp_path / "big.png", max_pixels=1_000)


def test_pillow_global_limit_is_restored(tmp_path: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    tio.write_image(tmp_path / "a.png", np.zeros((4, 4)))
    tio.read_image(tmp_path / "a.png", max_pixels=1_000_000_000)
    assert Image.MAX_IMAGE_PIXELS == before


# ------------------------------------------------------------------------------------ writing
def test_write_errors(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3))
    with pytest.raises(TinctError, match="unknown image extension"):
        tio.write_image(tmp_path / "a.xyz", image)
    with pytest.raises(TinctError, match="8 bits"):
        tio.write_image(tmp_path / "a.jpg", image, bit_depth=16)
    with pytest.raises(TinctError, match="transparency"):
        tio.write_image(tmp_path / "a.jpg", image, alpha=np.ones((4, 4)))
    with pytest.raises(TinctError, match="directory"):
        tio.write_image(tmp_path, image)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(TinctError, match="directory"):
        tio.write_image(tmp_path / "d.png", image)
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        tio.write_image(tmp_path / "a.png", np.zeros((4, 4, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png"]


def test_write_clips_rounds_and_creates_parents(tmp_path: Path) -> None:
    image = np.array([[-0.5, 0.2 / 255, 0.6 / 255, 7.0]])
    out = tio.write_image(tmp_path / "new" / "deeper" / "a.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), [[0, 0, 1, 255]])


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    source = tio.write_image(tmp_path / "in.png", np.zeros((4, 4)))
    tio.read_image(source)
    with pytest.raises(TinctError, match="overwrite an input"):
        tio.write_image(tmp_path / "sub" / ".." / "in.png", np.ones((4, 4)))
    (tmp_path / "link.png").symlink_to(source)
    with pytest.raises(TinctError, match="overwrite an input"):
        tio.write_image(tmp_path / "link.png", np.ones((4, 4)))
    (tmp_path / "hard.png").hardlink_to(source)
    with pytest.raises(TinctError, match="overwrite an input"):
        tio.write_image(tmp_path / "hard.png", np.ones((4, 4)))
    assert tio.read_gray(source).max() == 0  # untouched


def test_overwrites_an_output_atomically(tmp_path: Path) -> None:
    out = tio.write_image(tmp_path / "o.png", np.zeros((4, 4)))
    tio.write_image(out, np.ones((5, 5)))
    assert np.asarray(Image.open(out)).shape == (5, 5)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tio.write_image(tmp_path / "o.png", np.zeros((4, 4)))
    before = out.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tinct.io.write.os.replace", broken_replace)  # os.replace where write.py calls it
    with pytest.raises(TinctError, match="No space left"):
        tio.write_image(out, np.ones((4, 4)))
    with pytest.raises(TinctError, match="No space left"):
        tio.write_image(tmp_path / "other.png", np.ones((4, 4)))
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"] and out.read_bytes() == before


def test_failed_encoding_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tinct.io.write.cv2.imencode", lambda *args: (False, None))
    with pytest.raises(TinctError, match="encode") as info:
        tio.write_image(tmp_path / "a.png", np.zeros((4, 4, 3)), bit_depth=16)
    assert str(tmp_path / "a.png") in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TinctError, match=r"encode\(format='png'\): OpenCV failed to encode a 16-bit PNG"):
        tio.encode(np.zeros((4, 4, 3)), bit_depth=16)


# ------------------------------------------------------------------------------------ helpers
def test_is_color(tmp_path: Path, small_rgb: np.ndarray) -> None:
    gray = np.repeat(small_rgb.mean(axis=2, keepdims=True), 3, axis=2)
    assert tio.is_color(small_rgb) and not tio.is_color(gray) and not tio.is_color(gray[..., 0])
    # a gray image saved as a colour JPEG: chroma noise stays under the tolerance
    assert not tio.is_color(tio.read_rgb(tio.write_image(tmp_path / "g.jpg", gray, quality=75)))
    few = gray.copy()
    few[0, :2] = [1, 0, 0]  # 2 of 3072 pixels = 0.065 % < 0.1 %
    assert not tio.is_color(few) and tio.is_color(few, fraction=0.0005)


def test_list_and_expand_inputs(tmp_path: Path) -> None:
    for name in ["b.png", "a.JPG", "c.tif", "notes.txt", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.webp").write_bytes(b"x")
    assert [p.name for p in tio.list_images(tmp_path)] == ["a.JPG", "b.png", "c.tif"]
    with pytest.raises(TinctError, match="not a directory"):
        tio.list_images(tmp_path / "b.png")
    found = tio.expand_inputs([str(tmp_path / "*.png"), str(tmp_path / "sub"), str(tmp_path / "b.png"),
                               str(tmp_path / "missing.png"), str(tmp_path / "*.gif")])
    assert [p.name for p in found] == ["b.png", "d.webp", "missing.png", "*.gif"]


def test_png_key_colour_transparency(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(tmp_path / "l.png", transparency=40)
    data = tio.read_image(tmp_path / "l.png")
    np.testing.assert_array_equal(data.alpha == 0, gray == 40)
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 2] = [10, 20, 30]
    Image.fromarray(rgb).save(tmp_path / "rgb.png", transparency=(10, 20, 30))
    data = tio.read_image(tmp_path / "rgb.png")
    assert data.alpha[1, 2] == 0 and data.alpha.sum() == 11


def test_huge_header_is_refused_without_decoding(tmp_path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60_000, 50_000, 8, 2, 0, 0, 0)  # 3 gigapixels, 9 GB decoded
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                                        + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    message = _error(tmp_path / "bomb.png")
    assert f"{tio.DEFAULT_MAX_PIXELS:,}" in message and "--max-pixels" in message


def test_write_16bit_gray_with_alpha_is_stored_as_rgba(tmp_path: Path) -> None:
    gray, alpha = _ramp(channels=1), _ramp(channels=1, seed=3)
    data = tio.read_image(tio.write_image(tmp_path / "la.png", gray, bit_depth=16, alpha=alpha))
    assert data.source_mode == "RGBA" and data.bit_depth == 16
    assert np.abs(data.rgb - gray[..., None]).max() < 1 / 65535
    assert np.abs(data.alpha - alpha).max() < 1 / 65535


def test_write_rejects_integer_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        tio.write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    tio.write_image(tmp_path / "b.png", np.ones((4, 4), bool))
    assert tio.read_gray(tmp_path / "b.png").min() == 1


def test_a_deleted_input_does_not_block_its_reused_inode(tmp_path: Path) -> None:
    source = tio.write_image(tmp_path / "gone.png", np.zeros((4, 4)))
    tio.read_image(source)
    key = (source.stat().st_dev, source.stat().st_ino)
    source.unlink()
    other = tio.write_image(tmp_path / "other.png", np.zeros((4, 4)))
    inodes = tio_read._read_inodes
    inodes[(other.stat().st_dev, other.stat().st_ino)] = inodes.pop(key)  # simulate reuse
    tio.write_image(other, np.ones((4, 4)))  # allowed: the file that was read no longer exists
