"""Encoding images: atomic writes that never overwrite a file read in this process.

:func:`write_image` (to a file) and :func:`encode` (to bytes in memory) share one encoder,
:func:`_encode_checked`; only the target differs.
"""

from __future__ import annotations

import io as _bytes_io
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tinct.errors import TinctError
from tinct.io.durable import write_synced
from tinct.io.read import _read_inodes, _read_paths

_WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                  ".bmp": "BMP", ".webp": "WEBP"}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_ALPHA_FORMATS = {"PNG", "TIFF", "WEBP"}


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, bit_depth: int = 8, quality: int = 95,
                alpha: np.ndarray | None = None) -> Path:
    """Encode ``image`` to ``path`` atomically; the format comes from the extension.

    Args:
        path: target file (.png, .jpg/.jpeg, .tif/.tiff 8/16-bit; .bmp, .webp 8-bit). Parent
            directories are created.
        image: float ``(H, W)`` gray or ``(H, W, 3)`` RGB in [0, 1]; clipped and rounded.
        bit_depth: 8 or 16 (16 only for PNG and TIFF).
        quality: JPEG / WebP quality, 1..100.
        alpha: optional float ``(H, W)`` opacity in [0, 1] (PNG, TIFF, WebP).

    Returns:
        ``Path(path)``.

    Raises:
        TinctError: unknown extension, 16-bit or alpha the format cannot store, ``path`` is a
            directory or a file read by :func:`read_image` in this process, or the write failed.
    """
    path = Path(path)
    if path.is_dir():
        raise TinctError(f"{path}: is a directory; give a file name for the output")
    file_format = _WRITE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        known = ", ".join(sorted(_WRITE_FORMATS))
        raise TinctError(f"{path}: unknown image extension {path.suffix!r}; use one of {known}")
    _check_writable(path)
    _atomic_write(path, _encode_checked(str(path), file_format, image, bit_depth, quality, alpha))
    return path


def encode(image: np.ndarray, *, format: str = "png", bit_depth: int = 8, alpha: np.ndarray | None = None,
           quality: int = 95) -> bytes:
    """The bytes :func:`write_image` would write to a file of this format, encoded in memory.

    Args:
        image: float ``(H, W)`` gray or ``(H, W, 3)`` RGB in [0, 1]; clipped and rounded.
        format: ``png``, ``jpg``/``jpeg``, ``tif``/``tiff``, ``bmp`` or ``webp`` (any case, a
            leading dot allowed: an extension).
        bit_depth: 8 or 16 (16 only for PNG and TIFF).
        alpha: optional float ``(H, W)`` opacity in [0, 1] (PNG, TIFF, WebP).
        quality: JPEG / WebP quality, 1..100.

    Returns:
        The encoded file's bytes (:func:`decode` reads them back).

    Raises:
        TinctError: unknown format, 16-bit or alpha the format cannot store, encoding failed.
        ValueError: ``image`` or ``alpha`` of the wrong shape or dtype, or containing NaN.
    """
    extension = "." + format.lower().lstrip(".")
    file_format = _WRITE_FORMATS.get(extension)
    label = f"encode(format={format!r})"
    if file_format is None:
        known = ", ".join(sorted({name.lstrip(".") for name in _WRITE_FORMATS}))
        raise TinctError(f"{label}: unknown image format; use one of {known}")
    return _encode_checked(label, file_format, image, bit_depth, quality, alpha)


def _encode_checked(label: str, file_format: str, image: np.ndarray, bit_depth: int, quality: int,
                    alpha: np.ndarray | None) -> bytes:
    """Check the options against ``file_format``, quantize and encode; messages start with ``label``."""
    if bit_depth not in (8, 16):
        raise TinctError(f"{label}: bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and file_format not in _SIXTEEN_BIT_FORMATS:
        raise TinctError(f"{label}: {file_format} stores 8 bits per channel only; "
                         "use .png or .tif for 16-bit")
    if alpha is not None and file_format not in _ALPHA_FORMATS:
        raise TinctError(f"{label}: {file_format} cannot store transparency; use .png, .tif or .webp")
    if not 1 <= quality <= 100:
        raise TinctError(f"{label}: quality must be in 1..100, got {quality}")
    return _encode(label, _prepare_pixels(image, alpha, bit_depth), file_format, quality)


def _prepare_pixels(image: np.ndarray, alpha: np.ndarray | None, bit_depth: int) -> np.ndarray:
    """Quantized ``(H, W, C)`` uint8/uint16, C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.

    Works in row strips so a 24-megapixel float image never needs a full-size float64 copy.
    """
    array = np.asarray(image)
    if not (np.issubdtype(array.dtype, np.floating) or array.dtype == bool):
        raise ValueError(f"image must be float in [0, 1], got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or 0 in array.shape:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {array.shape}")
    array = array[..., None] if array.ndim == 2 else array
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != array.shape[:2]:
            raise ValueError(f"alpha must be {array.shape[:2]}, got shape {alpha.shape}")
    channels = array.shape[2] + (alpha is not None)
    scale, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    out = np.empty((*array.shape[:2], channels), dtype=dtype)
    rows = max(1, (1 << 20) // (array.shape[1] * channels))
    for top in range(0, array.shape[0], rows):
        strip = [array[top:top + rows].astype(np.float64)]
        if alpha is not None:
            strip.append(alpha[top:top + rows, :, None].astype(np.float64))
        for name, values in zip(("image", "alpha"), strip, strict=False):
            if np.isnan(values).any():
                raise ValueError(f"{name} contains NaN")
        values = np.concatenate(strip, axis=2) if len(strip) > 1 else strip[0]
        out[top:top + rows] = np.rint(np.clip(values, 0.0, 1.0) * scale)
    return out


def _check_writable(path: Path) -> None:
    resolved = path.resolve()
    if resolved in _read_paths or _is_hard_link_to_input(resolved):
        raise TinctError(f"{path}: refusing to overwrite an input image; choose another output name")


def _is_hard_link_to_input(resolved: Path) -> bool:
    """True if ``resolved`` is the same live file (device, inode) as an input read earlier."""
    try:
        stat = resolved.stat()
    except OSError:
        return False
    key = (stat.st_dev, stat.st_ino)
    original = _read_inodes.get(key)
    if original is None:
        return False
    try:  # the input may have been deleted and its inode reused by an unrelated file
        again = original.stat()
    except OSError:
        return False
    return (again.st_dev, again.st_ino) == key


def _encode(label: str, values: np.ndarray, file_format: str, quality: int) -> bytes:
    """Encode quantized ``(H, W, C)`` uint8 or uint16 values."""
    channels = values.shape[2]
    if values.dtype == np.uint16:
        if channels == 1:  # Pillow writes 16-bit gray; OpenCV everything else
            return _pil_bytes(Image.fromarray(values[..., 0]), file_format, quality)
        if channels == 2:  # no 16-bit gray+alpha encoder: stored as RGBA
            values = np.concatenate([np.repeat(values[..., :1], 3, axis=2), values[..., 1:]], axis=2)
        bgr = np.ascontiguousarray(np.concatenate([values[..., 2::-1], values[..., 3:]], axis=2))
        ok, buffer = cv2.imencode(".png" if file_format == "PNG" else ".tiff", bgr)
        if not ok:
            raise TinctError(f"{label}: OpenCV failed to encode a 16-bit {file_format}")
        return buffer.tobytes()
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    image = Image.fromarray(values[..., 0] if channels == 1 else values, mode=mode)
    if file_format == "WEBP" and mode in ("L", "LA"):
        image = image.convert("RGBA" if mode == "LA" else "RGB")
    return _pil_bytes(image, file_format, quality)


def _pil_bytes(image: Image.Image, file_format: str, quality: int) -> bytes:
    buffer = _bytes_io.BytesIO()
    options = {"JPEG": {"quality": quality}, "WEBP": {"quality": quality},
               "TIFF": {"compression": "tiff_deflate"}}.get(file_format, {})
    image.save(buffer, format=file_format, **options)
    return buffer.getvalue()


def _atomic_write(path: Path, payload: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                             delete=False)
    except OSError as error:
        raise TinctError(f"{path}: cannot write ({error.strerror or error})") from error
    temp = Path(handle.name)
    try:
        write_synced(handle, temp, payload)
        os.replace(temp, path)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise TinctError(f"{path}: cannot write ({error.strerror or error})") from error
        raise

