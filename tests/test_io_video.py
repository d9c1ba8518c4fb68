"""Video I/O: streaming reads of video files and frame folders, atomic streaming writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.video import moving_square_frames

from tinct import io
from tinct.errors import TinctError


def write_all(path: Path, frames: list[np.ndarray], **kw) -> Path:
    with io.FrameWriter(path, **kw) as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_file_round_trip(tmp_path: Path, suffix: str) -> None:
    frames = moving_square_frames()
    path = write_all(tmp_path / f"clip{suffix}", frames, fps=12.0)
    source = io.open_frames(path)
    assert (source.width, source.height, source.fps, source.frame_count) == (96, 64, 12.0, 6)
    back = list(source)
    assert len(back) == 6 and all(b.dtype == np.float32 and b.shape == (64, 96, 3) for b in back)
    for b, f in zip(back, frames, strict=True):
        assert np.abs(b - f).mean() < 0.03  # lossy codecs, but the same picture
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_frame_folder_round_trip_is_exact_and_sorted_by_number(tmp_path: Path) -> None:
    frames = moving_square_frames(n=3)
    out = write_all(tmp_path / "out", frames)
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png"]
    for b, f in zip(io.open_frames(out), frames, strict=True):
        np.testing.assert_allclose(b, np.round(f * 255) / 255, atol=1e-6)
    numbered = tmp_path / "numbered"
    numbered.mkdir()
    for index, name in ((0, "f2.png"), (1, "f10.png"), (2, "f1.png")):
        io.write_image(numbered / name, np.full((8, 8, 3), index / 4, np.float32))
    source = io.open_frames(numbered)
    assert [p.name for p in source.files] == ["f1.png", "f2.png", "f10.png"]
    assert source.fps is None and source.frame_count == 3


def test_nothing_appears_until_commit_and_an_error_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    writer = io.FrameWriter(target)
    writer.write(moving_square_frames(n=1)[0])
    assert not target.exists()
    writer.commit()
    assert target.is_file() and target.stat().st_mode & 0o444 == 0o444  # a plain file's mode, not 0600
    with pytest.raises(RuntimeError), io.FrameWriter(tmp_path / "frames") as folder:
        folder.write(moving_square_frames(n=1)[0])
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_inputs_and_existing_outputs_are_protected(tmp_path: Path) -> None:
    clip = write_all(tmp_path / "clip.mp4", moving_square_frames(n=2))
    io.open_frames(clip)  # now an input of this process
    with pytest.raises(TinctError, match="refusing to overwrite an input"):
        io.FrameWriter(clip, overwrite=True)
    folder = write_all(tmp_path / "frames", moving_square_frames(n=2))
    io.open_frames(folder)
    with pytest.raises(TinctError, match="holds input frames"):
        io.FrameWriter(folder, overwrite=True)
    other = write_all(tmp_path / "other.avi", moving_square_frames(n=2))
    with pytest.raises(TinctError, match="exists; pass --overwrite"):
        io.FrameWriter(other)
    with pytest.raises(TinctError, match="unknown video extension '.gif'"):
        io.FrameWriter(tmp_path / "x.gif")
    with pytest.raises(TinctError, match="8 bits"):
        io.FrameWriter(tmp_path / "x.mp4", bit_depth=16)


def test_bad_sources_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    sized = tmp_path / "sized"
    sized.mkdir()
    io.write_image(sized / "0.png", np.zeros((8, 8, 3), np.float32))
    io.write_image(sized / "1.png", np.zeros((8, 10, 3), np.float32))
    cases = [(tmp_path / "notes.mp4", "not a video file"), (tmp_path / "empty", "no image frames"),
             (tmp_path / "missing.mp4", "no such file")]
    for path, expected in cases:
        with pytest.raises(TinctError, match=expected) as caught:
            io.open_frames(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(TinctError, match=r"frame 1 \(1.png\) is 10x8 but the first frame is 8x8"):
        list(io.open_frames(sized))


def test_writer_refuses_a_size_change(tmp_path: Path) -> None:
    writer = io.FrameWriter(tmp_path / "out")
    writer.write(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(TinctError, match="frame 1 is 10x8 but the first was 8x8"):
        writer.write(np.zeros((8, 10, 3), np.float32))
    writer.abort()
    assert not list(tmp_path.iterdir())
