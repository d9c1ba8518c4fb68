"""Durable writes shared by image output (:mod:`tinct.io.write`) and the batch manifest: bytes
written, flushed and fsynced to a temporary file that then gets the mode a plain ``open`` would
give (``0o666`` minus the umask). Light on purpose: no image libraries, so the CLI's pre-torch
checks can import it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def write_synced(handle: BinaryIO, path: Path, payload: bytes) -> None:
    """Write ``payload`` through the open binary ``handle`` of ``path``, flush, fsync, close it,
    then set ``path``'s mode from the umask (temporary files are created 0600)."""
    with handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
