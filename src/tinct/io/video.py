"""Videos and folders of frames, read and written one frame at a time (memory does not grow with length).

Reading (:func:`open_frames`): a video file through OpenCV's FFmpeg backend, or a folder of images
sorted by name with numbers compared as numbers (``f2.png`` before ``f10.png``). Frames come as
float32 RGB ``(H, W, 3)`` in [0, 1]; a frame of another size than the first is refused with one line.
Audio is not read.

Writing (:class:`FrameWriter`): a video file (``.mp4``/``.m4v``/``.mov``/``.mkv``: MPEG-4 Part 2,
fourcc ``mp4v``, the codec the opencv wheel can encode; ``.avi``: Motion JPEG) or a folder of
8/16-bit PNG frames ``00000.png, 00001.png, ...``. Like image writes the output appears only when
complete: frames go to a hidden temporary file or folder beside the target, renamed onto it by
:meth:`FrameWriter.commit`; an input file (or a folder holding input frames) is never replaced.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from tinct.errors import TinctError
from tinct.io.paths import list_images
from tinct.io.read import DEFAULT_MAX_PIXELS, _read_paths, _remember_input, read_rgb
from tinct.io.write import _check_writable, write_image

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")
"""Extensions read as video files (anything FFmpeg decodes is tried when asked explicitly)."""

WRITE_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
"""Video extensions :class:`FrameWriter` encodes, with their fourcc."""

DEFAULT_FPS = 25.0
"""Frame rate written when the source has none (a folder of frames)."""

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own messages would break one-line errors


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has a video extension (:data:`VIDEO_EXTENSIONS`, any case)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _capture(path: Path) -> cv2.VideoCapture:
    """An opened FFmpeg capture of ``path`` (OpenCV's own warnings silenced while opening)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not capture.isOpened():
        capture.release()
        raise TinctError(f"{path}: not a video file OpenCV can read (or it is corrupt); give a video or a "
                         "folder of frames")
    return capture


def _bgr_to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    scale = 65535.0 if frame.dtype == np.uint16 else 255.0
    return np.ascontiguousarray(frame[..., 2::-1], dtype=np.float32) / np.float32(scale)


@dataclass
class FrameSource:
    """A readable sequence of frames; iterate it (again and again) for float32 RGB ``(H, W, 3)`` in [0, 1].

    Attributes:
        path: the video file or the folder.
        width, height: the size of the first frame (every frame must have it).
        fps: frames per second of a video file (None for a folder or when the file does not say).
        frame_count: frames in the folder, or the container's count for a video (None if unknown).
        files: the frame files of a folder, in order (empty for a video file).
    """

    path: Path
    width: int
    height: int
    fps: float | None
    frame_count: int | None
    files: list[Path] = field(default_factory=list)
    max_pixels: int = DEFAULT_MAX_PIXELS

    @property
    def is_folder(self) -> bool:
        return bool(self.files)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._folder_frames() if self.is_folder else self._video_frames()

    def _check_size(self, frame: np.ndarray, index: int, name: str) -> np.ndarray:
        if frame.shape[:2] != (self.height, self.width):
            raise TinctError(f"{self.path}: frame {index} ({name}) is {frame.shape[1]}x{frame.shape[0]} but "
                             f"the first frame is {self.width}x{self.height}; every frame must have one size")
        return frame

    def _folder_frames(self) -> Iterator[np.ndarray]:
        for index, file in enumerate(self.files):
            yield self._check_size(read_rgb(file, max_pixels=self.max_pixels), index, file.name)

    def _video_frames(self) -> Iterator[np.ndarray]:
        capture = _capture(self.path)
        try:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                seconds = index / (self.fps or DEFAULT_FPS)
                yield self._check_size(_bgr_to_rgb(frame), index, f"at {seconds:.2f} s")
                index += 1
        finally:
            capture.release()


def open_frames(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> FrameSource:
    """Open a video file or a folder of frames for streaming (only the first frame is decoded now).

    Args:
        path: a video file (any container FFmpeg reads) or a folder of images (sorted by name,
            numbers compared as numbers; hidden files skipped).
        max_pixels: refuse frames with more pixels.

    Returns:
        A :class:`FrameSource`; the file (or the frames) count as inputs that are never overwritten.

    Raises:
        TinctError: missing path, an empty folder, not a video, a first frame that cannot be decoded
            or is too large; one line naming ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise TinctError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(list_images(path), key=_natural_key)
        if not files:
            raise TinctError(f"{path}: no image frames in this folder (.png, .jpg, .tif, .bmp, .webp)")
        first = read_rgb(files[0], max_pixels=max_pixels)
        return FrameSource(path, first.shape[1], first.shape[0], None, len(files), files, max_pixels)
    capture = _capture(path)
    try:
        ok, frame = capture.read()
        if not ok:
            raise TinctError(f"{path}: no frame can be decoded; the video is empty, truncated or in a codec "
                             "this OpenCV cannot read")
        fps, count = capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()
    height, width = frame.shape[:2]
    if width * height > max_pixels:
        raise TinctError(f"{path}: {width}x{height} frames are over the limit of {max_pixels:,} pixels; "
                         "raise it with --max-pixels")
    _remember_input(path)
    return FrameSource(path, width, height, float(fps) if fps > 0 else None,
                       int(count) if count > 0 else None, [], max_pixels)


def _plain_mode(*, directory: bool) -> int:
    """The mode a plain ``open`` / ``mkdir`` gives under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


class FrameWriter:
    """Write frames one at a time to a video file or a folder of PNGs; the target appears on :meth:`commit`.

    Use it as a context manager: leaving the block normally commits, an exception removes the
    temporary output and leaves any existing target untouched.

    Args:
        path: a video file (extension in :data:`WRITE_CODECS`) or a folder (no extension, or an
            existing folder) for ``00000.png, 00001.png, ...``.
        fps: frames per second of a video file (None: :data:`DEFAULT_FPS`).
        overwrite: replace an existing file, or a folder that is not empty.
        bit_depth: 8, or 16 for PNG frames.

    Raises:
        TinctError: unknown extension, an input as the target, an existing target without
            ``overwrite``, 16 bits for a video; one line.
    """

    def __init__(self, path: str | os.PathLike[str], *, fps: float | None = DEFAULT_FPS,
                 overwrite: bool = False, bit_depth: int = 8) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
        self.bit_depth = bit_depth
        self.frames_written = 0
        self.is_folder = self.path.is_dir() or not self.path.suffix
        self._size: tuple[int, int] | None = None
        self._video: cv2.VideoWriter | None = None
        self._temp: Path | None = None  # made by the first write
        if self.is_folder:
            self._check_folder(overwrite)
        else:
            self._check_file(overwrite)

    def _temporary(self) -> Path:
        """The hidden temporary file or folder beside the target (made on first use)."""
        if self._temp is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.is_folder:
                    made = tempfile.mkdtemp(dir=self.path.parent, prefix=self._prefix, suffix=".tmp")
                    self._temp = Path(made)
                else:
                    fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=self._prefix,
                                                suffix=f".tmp{self.path.suffix}")
                    os.close(fd)
                    self._temp = Path(name)
            except OSError as error:
                raise TinctError(f"{self.path}: cannot write ({error.strerror or error})") from error
        return self._temp

    @property
    def _prefix(self) -> str:
        return f".{self.path.name}."

    def _check_file(self, overwrite: bool) -> None:
        if self.path.suffix.lower() not in WRITE_CODECS:
            raise TinctError(f"{self.path}: unknown video extension {self.path.suffix!r}; use one of "
                             f"{', '.join(WRITE_CODECS)}, or a folder name for PNG frames")
        if self.bit_depth != 8:
            raise TinctError(f"{self.path}: videos are written with 8 bits per channel; use a folder of PNG "
                             "frames for 16 bits")
        _check_writable(self.path)
        if self.path.exists() and not overwrite:
            raise TinctError(f"output {self.path} exists; pass --overwrite to replace it")

    def _check_folder(self, overwrite: bool) -> None:
        if self.bit_depth not in (8, 16):
            raise TinctError(f"bit depth must be 8 or 16, got {self.bit_depth}")
        resolved = self.path.resolve()
        if any(p == resolved or resolved in p.parents for p in _read_paths):
            raise TinctError(f"{self.path}: refusing to replace a folder that holds input frames; choose "
                             "another output folder")
        if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise TinctError(f"output folder {self.path} is not empty; pass --overwrite to replace its "
                             "content")

    def write(self, rgb: np.ndarray) -> None:
        """Append one frame: float ``(H, W, 3)`` RGB in [0, 1], the size of the first frame."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"a frame must be (H, W, 3) RGB, got shape {rgb.shape}")
        size = (rgb.shape[1], rgb.shape[0])
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise TinctError(f"{self.path}: frame {self.frames_written} is {size[0]}x{size[1]} but the first "
                             f"was {self._size[0]}x{self._size[1]}; a video has one size")
        if self.is_folder:
            write_image(self._temporary() / f"{self.frames_written:05d}.png", rgb, bit_depth=self.bit_depth)
        else:
            self._video_writer().write(np.rint(np.clip(rgb[..., ::-1], 0.0, 1.0) * 255.0).astype(np.uint8))
        self.frames_written += 1

    def _video_writer(self) -> cv2.VideoWriter:
        if self._video is None:
            fourcc = WRITE_CODECS[self.path.suffix.lower()]
            self._video = cv2.VideoWriter(str(self._temporary()), cv2.CAP_FFMPEG,
                                          cv2.VideoWriter_fourcc(*fourcc), self.fps, self._size)
            if not self._video.isOpened():
                raise TinctError(f"{self.path}: OpenCV cannot encode {fourcc} at "
                                 f"{self._size[0]}x{self._size[1]}; try .avi or a folder of PNG frames")
        return self._video

    def commit(self) -> Path:
        """Finish the file (or folder) and rename it onto the target; returns the target."""
        if self.frames_written == 0 or self._temp is None:
            self.abort()
            raise TinctError(f"{self.path}: no frames to write")
        try:
            if self._video is not None:
                self._video.release()
                self._video = None
                with open(self._temp, "rb+") as handle:
                    os.fsync(handle.fileno())
            os.chmod(self._temp, _plain_mode(directory=self.is_folder))  # temporary files are private
            if self.is_folder and self.path.exists():
                aside = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=self._prefix, suffix=".old"))
                os.replace(self.path, aside / "old")
                os.replace(self._temp, self.path)
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(self._temp, self.path)
        except OSError as error:
            self.abort()
            raise TinctError(f"{self.path}: cannot write ({error.strerror or error})") from error
        return self.path

    def abort(self) -> None:
        """Drop what was written; the target is left as it was."""
        if self._video is not None:
            self._video.release()
            self._video = None
        if self._temp is None:
            return
        if self._temp.is_dir():
            shutil.rmtree(self._temp, ignore_errors=True)
        else:
            self._temp.unlink(missing_ok=True)
        self._temp = None

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()
