"""Decoding images to float32 RGB in [0, 1] plus alpha (modes, bit depths, EXIF, size limits).

:func:`read_image` decodes a file and :func:`decode` the same bytes held in memory; both run one
implementation on a :class:`_Source` (a path or a byte string plus the name messages start with).
Also holds the process-wide record of files read (``_read_paths``, ``_read_inodes``) that
:mod:`tinct.io.write` consults so an input is never overwritten, and the lock that guards the
temporary change of Pillow's global decompression-bomb limit.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile

from tinct.errors import TinctError

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width x height) read by default; raise it with ``max_pixels`` / ``--max-pixels``."""

_EXIF_ORIENTATION = 0x0112

_pil_lock = threading.Lock()  # guards the temporary change of Pillow's global bomb limit
_read_paths: set[Path] = set()  # resolved paths read in this process: never written onto
_read_inodes: dict[tuple[int, int], Path] = {}  # (st_dev, st_ino) -> the path read (hard links)


@dataclass
class ImageData:
    """A decoded image file.

    Attributes:
        rgb: float32 ``(H, W, 3)`` in [0, 1], not premultiplied; one-channel sources repeated to 3.
        alpha: float32 ``(H, W)`` in [0, 1] (1 = opaque), or ``None`` when the file has none.
        source_mode: Pillow mode of the file ("1", "L", "LA", "I;16", "RGB", "RGBA", "P", "CMYK",
            "F", ...); 16-bit colour files decoded by OpenCV report "RGB" / "RGBA" / "LA".
        bit_depth: bits per channel of the source: 1, 8, 16 (32 for float / 32-bit integer).
        is_gray_source: the file stores one channel (plus alpha), or a palette of grays only.
        path: the path as given to :func:`read_image`; ``Path(name)`` for :func:`decode`.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source_mode: str
    bit_depth: int
    is_gray_source: bool
    path: Path

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


@dataclass(frozen=True)
class _Source:
    """Encoded image bytes: a file, or the bytes themselves; ``label`` starts every message."""

    label: str
    origin: Path | bytes

    @property
    def path(self) -> Path:
        """What :attr:`ImageData.path` holds: the file, or ``Path(label)`` for bytes."""
        return self.origin if isinstance(self.origin, Path) else Path(self.label)

    def opener(self) -> Path | io.BytesIO:
        """What :func:`PIL.Image.open` reads: the path, or a stream over the bytes (no copy to disk)."""
        return self.origin if isinstance(self.origin, Path) else io.BytesIO(self.origin)

    def head(self, count: int) -> bytes:
        """The first ``count`` bytes (fewer if shorter): magic numbers and the PNG header."""
        if isinstance(self.origin, Path):
            with open(self.origin, "rb") as handle:
                return handle.read(count)
        return bytes(self.origin[:count])

    def buffer(self) -> np.ndarray:
        """All bytes as uint8 ``(N,)`` for ``cv2.imdecode`` (a view of in-memory bytes, no copy)."""
        if isinstance(self.origin, Path):
            return np.fromfile(self.origin, dtype=np.uint8)
        return np.frombuffer(self.origin, dtype=np.uint8)


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Decode an image file to float32 RGB in [0, 1] plus alpha (modes: ``docs/methods/io.md``).

    Args:
        path: the file.
        max_pixels: refuse images with more than this many pixels (checked from the header).

    Returns:
        :class:`ImageData`; the resolved path is remembered so :func:`write_image` never
        overwrites it.

    Raises:
        TinctError: missing file, a directory, empty, truncated/corrupt, not an image, too large;
            one line starting with ``path``.
    """
    path = Path(path)
    _check_max_pixels(max_pixels)
    _check_readable(path)
    data = _decode_source(_Source(str(path), path), max_pixels)
    _remember_input(path)
    return data


def decode(data: bytes, *, name: str = "upload", max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Decode an image held in memory exactly as :func:`read_image` decodes the same file.

    Nothing is written to disk. The result has the same values, mode and bit depth as reading
    a file with these bytes, and ``path=Path(name)``; it is not recorded as an input (there is
    no file to protect from :func:`write_image`).

    Args:
        data: the encoded file's bytes (any bytes-like object: bytes, bytearray, memoryview).
        name: how messages name the image (e.g. the uploaded file's name).
        max_pixels: refuse images with more than this many pixels (checked from the header).

    Returns:
        :class:`ImageData`: ``rgb`` float32 ``(H, W, 3)`` in [0, 1], ``alpha`` ``(H, W)`` or None.

    Raises:
        TinctError: empty, truncated/corrupt, not an image, too large; the same one-line
            messages as :func:`read_image`, starting with ``name`` instead of a path.
    """
    _check_max_pixels(max_pixels)
    if len(data) == 0:
        raise TinctError(f"{name}: the file is empty (0 bytes)")
    return _decode_source(_Source(name, data), max_pixels)


def _check_max_pixels(max_pixels: int) -> None:
    if max_pixels < 1:
        raise TinctError(f"max_pixels must be a positive number of pixels, got {max_pixels}")


def _decode_source(source: _Source, max_pixels: int) -> ImageData:
    """Decode ``source``; any codec failure becomes one line naming ``source.label``."""
    try:
        return _decode(source, max_pixels)
    except (TinctError, MemoryError):
        raise
    except Exception as error:  # any codec failure is the file's fault: one line, no traceback
        detail = " ".join(str(error).split()) or type(error).__name__
        message = f"{source.label}: cannot decode the image ({detail}); the file may be truncated or corrupt"
        raise TinctError(message) from error


def read_rgb(path: str | os.PathLike[str], **kwargs: int) -> np.ndarray:
    """float32 ``(H, W, 3)`` RGB in [0, 1]; alpha is ignored. Keyword arguments go to :func:`read_image`."""
    return read_image(path, **kwargs).rgb


def read_gray(path: str | os.PathLike[str], **kwargs: int) -> np.ndarray:
    """float32 ``(H, W)`` BT.601 luma in [0, 1] (a gray file's values are returned exactly)."""
    data = read_image(path, **kwargs)
    if data.is_gray_source:
        return np.ascontiguousarray(data.rgb[..., 0])
    return _luma(data.rgb)


def _luma(rgb: np.ndarray) -> np.ndarray:
    from tinct.color import rgb_to_luma  # lazily: tinct.color imports torch

    return np.clip(rgb_to_luma(rgb), 0.0, 1.0).astype(np.float32)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise TinctError(f"{path}: no such file")
    if path.is_dir():
        raise TinctError(f"{path}: is a directory, not an image file")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise TinctError(f"{path}: cannot read ({error.strerror})") from error
    if size == 0:
        raise TinctError(f"{path}: the file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise TinctError(f"{path}: permission denied")


def _too_large(label: str, width: int, height: int, max_pixels: int) -> TinctError:
    return TinctError(f"{label}: {width}x{height} = {width * height:,} pixels is over the limit of "
                      f"{max_pixels:,}; raise it with --max-pixels (max_pixels=) if you trust the file")


@contextmanager
def _pillow_guard(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb limit = ``max_pixels`` and truncated files refused, restored afterwards."""
    with _pil_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bomb warnings (we check the size ourselves), corrupt EXIF
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode(source: _Source, max_pixels: int) -> ImageData:
    label = source.label
    with _pillow_guard(max_pixels):
        try:
            image = Image.open(source.opener())
        except Image.DecompressionBombError as error:
            raise TinctError(f"{label}: the image is over the limit of {max_pixels:,} pixels; "
                             "raise it with --max-pixels (max_pixels=) if you trust the file") from error
        except Image.UnidentifiedImageError as error:
            if source.head(4) not in (b"II*\x00", b"MM\x00*"):
                raise TinctError(f"{label}: not an image file (or a format tinct cannot read)") from error
            return _decode_with_opencv(source, None, max_pixels)
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise _too_large(label, width, height, max_pixels)
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            opencv_mode = _opencv_mode(source, image)
            if opencv_mode is not None:
                data = _decode_with_opencv(source, opencv_mode, max_pixels)
            else:
                image.load()
                data = _from_pil(source.path, image)
    return _apply_orientation(data, orientation)


def _opencv_mode(source: _Source, image: Image.Image) -> str | None:
    """The source mode of colour or gray+alpha files with 16 bits per channel (Pillow truncates
    them to 8, so OpenCV decodes them), else ``None``."""
    if image.format == "PNG":
        header = source.head(26)  # IHDR: bit depth at byte 24, colour type at 25
        depth, colour_type = header[24], header[25]
        if depth == 16 and colour_type in (2, 4, 6):
            return {2: "RGB", 4: "LA", 6: "RGBA"}[colour_type]
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA", "LA", "RGBX"):
        bits = image.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        if max(bits) > 8:
            return "RGB" if image.mode == "RGBX" else image.mode
    return None


def _decode_with_opencv(source: _Source, mode: str | None, max_pixels: int) -> ImageData:
    """16-bit colour files (``mode`` known from the header) or, with ``mode=None``, TIFFs that
    Pillow cannot identify (float RGB...; their size is checked after decoding)."""
    array = cv2.imdecode(source.buffer(), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise TinctError(f"{source.label}: cannot decode the image; the file is truncated, corrupt "
                         "or unsupported")
    if array.shape[0] * array.shape[1] > max_pixels:
        raise _too_large(source.label, array.shape[1], array.shape[0], max_pixels)
    if mode is None:
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[1 if array.ndim == 2 else array.shape[2]]
    return _from_opencv(source.path, array, mode)


def _from_opencv(path: Path, array: np.ndarray, mode: str) -> ImageData:
    if array.dtype == np.uint16:
        scaled, depth = array.astype(np.float32) / 65535.0, 16
    elif array.dtype == np.uint8:
        scaled, depth = array.astype(np.float32) / 255.0, 8
    else:
        scaled, depth = _rescale_float(array.astype(np.float32)), 32
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    channels = scaled.shape[2]
    alpha = scaled[..., -1] if channels in (2, 4) else None
    if channels in (1, 2):
        rgb = np.repeat(scaled[..., :1], 3, axis=2)
    else:
        rgb = scaled[..., 2::-1]  # BGR(A) -> RGB
    is_gray = channels in (1, 2) or mode in ("L", "LA")
    if mode == "LA":  # OpenCV expands 16-bit gray+alpha PNGs to BGRA with equal channels
        rgb = np.repeat(rgb[..., :1], 3, axis=2)
    return ImageData(np.ascontiguousarray(rgb, dtype=np.float32),
                     None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32),
                     mode, depth, is_gray, path)


def _rescale_float(values: np.ndarray) -> np.ndarray:
    """Float/32-bit data to [0, 1]: kept if already inside, else min-max over finite values; NaN -> 0."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.float32)
    low, high = float(values[finite].min()), float(values[finite].max())
    if low >= 0.0 and high <= 1.0:
        out = values
    elif high > low:
        out = (values - low) / (high - low)
    else:
        out = np.zeros_like(values)
    return np.clip(np.where(finite, out, 0.0), 0.0, 1.0).astype(np.float32)


def _palette_is_gray(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    used = set(np.unique(np.asarray(image)).tolist())
    entries = [palette[3 * i:3 * i + 3] for i in used if 3 * i + 2 < len(palette)]
    return all(r == g == b for r, g, b in entries)


def _from_pil(path: Path, image: Image.Image) -> ImageData:
    mode = image.mode
    alpha = None
    if mode == "1":
        gray, depth = np.asarray(image, dtype=np.float32), 1
    elif mode in ("L", "LA", "La"):
        la = np.asarray(image.convert("LA"), dtype=np.float32) / 255.0
        gray, depth = la[..., 0], 8
        alpha = la[..., 1] if mode != "L" else None
    elif mode.startswith("I;16"):
        gray, depth = np.asarray(image).astype(np.float32) / 65535.0, 16
    elif mode == "I":
        values = np.asarray(image).astype(np.float64)
        if values.size and values.min() >= 0 and values.max() <= 65535:
            gray, depth = (values / 65535.0).astype(np.float32), 16
        else:
            gray, depth = _rescale_float(values.astype(np.float32)), 32
    elif mode == "F":
        gray, depth = _rescale_float(np.asarray(image, dtype=np.float32)), 32
    else:
        return _colour_from_pil(path, image)
    if alpha is None:
        alpha = _key_colour_alpha(image)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    return ImageData(np.ascontiguousarray(rgb, dtype=np.float32), alpha, mode, depth, True, path)


def _key_colour_alpha(image: Image.Image) -> np.ndarray | None:
    """Alpha from a PNG ``tRNS`` key colour (one fully transparent gray or RGB value), else None."""
    key = image.info.get("transparency")
    if key is None or image.mode not in ("L", "I", "I;16", "I;16B", "RGB"):
        return None
    raw = np.asarray(image)
    if image.mode == "RGB":
        if not (isinstance(key, tuple) and len(key) == 3):
            return None
        transparent = (raw == np.asarray(key, dtype=raw.dtype)).all(axis=2)
    else:
        if not isinstance(key, int):
            return None
        transparent = raw == key
    return np.where(transparent, 0.0, 1.0).astype(np.float32)


def _colour_from_pil(path: Path, image: Image.Image) -> ImageData:
    mode = image.mode
    has_alpha = mode in ("RGBA", "RGBa", "PA", "LA") or (mode == "P" and "transparency" in image.info)
    is_gray = mode == "P" and _palette_is_gray(image)
    converted = image.convert("RGBA" if has_alpha else "RGB")
    array = np.asarray(converted, dtype=np.float32) / 255.0
    alpha = np.ascontiguousarray(array[..., 3]) if has_alpha else _key_colour_alpha(image)
    return ImageData(np.ascontiguousarray(array[..., :3]), alpha, mode, 8, is_gray, path)


def _apply_orientation(data: ImageData, orientation: int) -> ImageData:
    """Apply the EXIF orientation tag (same result as ``PIL.ImageOps.exif_transpose``)."""
    def turn(array: np.ndarray | None) -> np.ndarray | None:
        if array is None:
            return None
        out = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
               5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
               7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
        return np.ascontiguousarray(out[orientation](array)) if orientation in out else array

    return ImageData(turn(data.rgb), turn(data.alpha), data.source_mode, data.bit_depth,
                     data.is_gray_source, data.path)


def _remember_input(path: Path) -> None:
    resolved = path.resolve()
    _read_paths.add(resolved)
    try:
        stat = resolved.stat()
        _read_inodes[(stat.st_dev, stat.st_ino)] = resolved
    except OSError:
        pass

