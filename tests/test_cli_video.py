"""``tinct colorize`` on videos: streaming, outputs, keyframes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.video import moving_square_frames

import tinct
from tinct import cli, io
from tinct.color import rgb_to_luma, rgb_to_uv


@pytest.fixture
def clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``frames/`` (6 PNG frames) and ``clip.mp4``; default method gray."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tinct, "DEFAULT_METHOD", "gray")
    for target in ("frames", "clip.mp4"):
        with io.FrameWriter(tmp_path / target) as writer:
            for frame in moving_square_frames():
                writer.write(frame)
    return tmp_path


def test_video_file_to_video_and_frames_to_frames(clip: Path) -> None:
    assert cli.main(["colorize", "clip.mp4", "-o", "out.mp4", "-q"]) == 0
    out = io.open_frames(clip / "out.mp4")
    assert out.frame_count == 6 and (out.width, out.height) == (96, 64) and out.fps == 25.0
    assert cli.main(["colorize", "frames", "--video", "-o", "coloured/", "-q"]) == 0
    coloured = list(io.open_frames(clip / "coloured"))
    assert len(coloured) == 6
    for result, frame in zip(coloured, moving_square_frames(), strict=True):
        assert np.abs(rgb_to_uv(result)).max() < 1e-6  # gray
        np.testing.assert_allclose(rgb_to_luma(result), rgb_to_luma(frame), atol=1 / 255)
    assert cli.main(["colorize", "frames", "--video", "-q"]) == 0  # default: tinct-out/<name>_<method>/
    assert len(list((clip / "tinct-out" / "frames_gray").iterdir())) == 6


def test_frames_are_read_coloured_and_written_one_by_one(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinct.io import video

    reads: list[str] = []
    seen_at_first_write: list[int] = []
    original_read, original_write = video.read_rgb, video.FrameWriter.write

    def counting_read(path, **kw):
        reads.append(Path(path).name)
        return original_read(path, **kw)

    def recording_write(self, rgb):
        if not seen_at_first_write:
            seen_at_first_write.append(len(reads))
        return original_write(self, rgb)

    monkeypatch.setattr(video, "read_rgb", counting_read)
    monkeypatch.setattr(video.FrameWriter, "write", recording_write)
    assert cli.main(["colorize", "frames", "--video", "-o", "out.avi", "--method", "video-blend",
                     "-O", "inner=gray", "-q"]) == 0
    assert len(reads) == 7  # the first frame is read once more by open_frames (its size)
    assert seen_at_first_write == [2]  # frame 0 was written before frame 1 was read


def test_keyframe_with_a_per_frame_method_is_carried_by_video_blend(clip: Path, capsys) -> None:
    key = moving_square_frames(n=1)[0][..., ::-1].copy()
    io.write_image(clip / "key.png", key)
    assert cli.main(["colorize", "frames", "--video", "-o", "out", "--keyframe", "key.png"]) == 0
    err = capsys.readouterr().err
    assert "carried on by video-blend (-O inner=gray)" in err
    outs = list(io.open_frames(clip / "out"))
    for out in (outs[0], outs[3]):  # frame 0 takes the keyframe's colours, and they last
        assert np.abs(rgb_to_uv(out) - rgb_to_uv(key)).mean() < 0.02


@pytest.mark.parametrize(("argv", "code", "expected"), [
    (["clip.mp4", "-o", "out.png"], 2, "is an image name"),
    (["clip.mp4", "-o", "out.gif"], 2, "unknown video extension '.gif'"),
    (["frames", "clip.mp4", "--video"], 2, "a video is one input"),
    (["frames", "--video", "-r"], 2, "-r/--recursive is for batches of images"),
    (["frames", "--video", "--hints", "k.png"], 2, "pass it as --keyframe"),
    (["one.png", "--keyframe", "k.png"], 2, "--keyframe is for videos"),
    (["notes.mp4", "-o", "out.mp4"], 1, "not a video file OpenCV can read"),
    (["frames", "--video", "-o", "out.mp4", "--keyframe", "small.png"], 1,
     "the keyframe is 8x8, the frames 96x64"),
    (["mixed", "--video", "-o", "out.mp4"], 1, "is 8x8 but the first frame is 96x64"),
    (["clip.mp4", "-o", "clip.mp4", "--overwrite"], 1, "refusing to overwrite an input"),
    (["frames", "--video", "-o", "frames", "--overwrite"], 1, "holds input frames"),
])
def test_bad_video_usage_is_one_line(clip: Path, capsys, argv: list[str], code: int, expected: str) -> None:
    (clip / "notes.mp4").write_text("not a video")
    io.write_image(clip / "one.png", np.zeros((8, 8), np.float32))
    io.write_image(clip / "small.png", np.random.default_rng(0).random((8, 8, 3)).astype(np.float32))
    (clip / "mixed").mkdir()
    io.write_image(clip / "mixed" / "a0.png", moving_square_frames(n=1)[0])
    io.write_image(clip / "mixed" / "a1.png", np.zeros((8, 8, 3), np.float32))
    assert cli.main(["colorize", *argv, "-q"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0]
    assert not (clip / "out.mp4").exists() and not list(clip.glob(".out*"))  # nothing half-written
