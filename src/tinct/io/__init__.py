"""Image files in and out: the only package that touches file formats (Pillow and OpenCV codecs).

Reading gives float32 RGB in [0, 1] (+ alpha) from PNG, JPEG, TIFF, BMP, WebP (anything Pillow
opens, first frame), 1/8/16-bit, gray, gray+alpha, RGB(A), palette, CMYK (naive, no ICC), float;
16-bit colour PNG/TIFF go through ``cv2.imdecode`` because Pillow truncates them to 8 bits. The
EXIF orientation is applied and the pixel count is checked from the header before decoding.
Writing is atomic and never overwrites a file read in this process. ``decode`` / ``encode`` do
the same in memory (bytes in, bytes out, no temporary file), through the same code as
``read_image`` / ``write_image``. The per-mode table, error messages and limits are in
``docs/methods/io.md``.

Modules: :mod:`tinct.io.read` (decoding files and bytes, modes, limits, the record of files
read), :mod:`tinct.io.write` (encoding to bytes, atomic writes, input protection),
:mod:`tinct.io.paths` (``list_images``, ``expand_inputs``, ``is_color``,
``frame_count``), :mod:`tinct.io.video` (``open_frames``: a video file or a folder of frames read one
frame at a time; ``FrameWriter``: mp4/avi or PNG frames, committed atomically). Everything public
is re-exported here; import from ``tinct.io``. Tests that
patch a dependency patch it where it is used (e.g. ``tinct.io.write.os.replace``): this package
re-exports no third-party module.
"""

from __future__ import annotations

from tinct.io.paths import IMAGE_EXTENSIONS, expand_inputs, frame_count, is_color, list_images
from tinct.io.read import DEFAULT_MAX_PIXELS, ImageData, decode, read_gray, read_image, read_rgb
from tinct.io.video import (
    VIDEO_EXTENSIONS,
    WRITE_CODECS,
    FrameSource,
    FrameWriter,
    is_video_file,
    open_frames,
)
from tinct.io.write import encode, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "WRITE_CODECS",
    "FrameSource",
    "FrameWriter",
    "ImageData",
    "decode",
    "encode",
    "expand_inputs",
    "frame_count",
    "is_color",
    "is_video_file",
    "list_images",
    "open_frames",
    "read_gray",
    "read_image",
    "read_rgb",
    "write_image",
]
