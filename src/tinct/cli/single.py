"""``tinct colorize IN -o OUT``: one file to a named output (any image format; no manifest)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tinct.batch.local import read_input
from tinct.batch.work import Worker, WorkSpec, decode_input
from tinct.errors import TinctError


def colorize_one(path: Path, out: Path, spec: WorkSpec, *, overwrite: bool, quiet: bool) -> int:
    """Colorize ``path`` into ``out`` (format from its extension; 16-bit PNG/TIFF for a 16-bit input
    unless ``spec.bit_depth`` says otherwise; alpha kept where the format can store it). Returns 0;
    a bad input or an existing output raises :class:`TinctError` (exit 1)."""
    from tinct import io

    if out.resolve() == path.resolve():
        raise TinctError(f"refusing to replace the input image {out}; choose another output name")
    if out.exists() and not overwrite:
        raise TinctError(f"output {out} exists; pass --overwrite to replace it")
    with ThreadPoolExecutor(max_workers=1) as pool:  # decode while the method loads
        decoding = pool.submit(lambda: decode_input(str(path), read_input(path), spec.max_pixels))
        worker = Worker(spec)
        item = decoding.result()
    for note in item.notes:
        if not quiet or note.startswith("warning:"):
            print(note, file=sys.stderr)
    rgb = worker.compute(item)
    deep_format = out.suffix.lower() in (".png", ".tif", ".tiff")  # formats that store 16 bits
    bit_depth = spec.bit_depth or (16 if item.bit_depth == 16 and deep_format else 8)
    alpha = item.alpha
    if alpha is not None and out.suffix.lower() in (".jpg", ".jpeg", ".bmp"):
        if not quiet:
            print(f"note: {out.name}: {out.suffix} cannot store transparency; alpha channel is dropped",
                  file=sys.stderr)
        alpha = None
    io.write_image(out, rgb, bit_depth=bit_depth, alpha=alpha)
    if not quiet:
        print(out)
    return 0
