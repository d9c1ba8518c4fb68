"""``OUT/tinct-manifest.jsonl``: one JSON record per input, the batch's memory between runs.

A record (one line) holds ``input`` (absolute path), ``output`` (relative to the output folder),
``method``, ``options``, ``weights``, ``status`` (``done`` / ``failed``), ``error``, ``seconds``,
and what resuming compares: ``source`` (the input's size and mtime), ``key`` (a hash of method,
options, weights and the other inputs) and ``written`` (size and mtime of the output file).

Writes are crash-safe: a record is appended (flushed and fsynced) after the output's temporary
file is complete and before that file is renamed into place, so a killed run leaves either a
done record and the finished file, or a record whose output check fails (it is redone), or no
record. A line cut off by a kill is ignored when read; :meth:`Manifest.rewrite` replaces the
file atomically with one record per input (at the start and the end of every run).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tinct.io.durable import write_synced
from tinct.io.paths import IMAGE_EXTENSIONS

MANIFEST_NAME = "tinct-manifest.jsonl"


def file_stamp(path: Path) -> dict[str, int] | None:
    """``{"size", "mtime_ns"}`` of a file, or None if it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class Manifest:
    """The manifest of one output folder: the latest record per input, appended to as jobs finish."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by a kill
                if isinstance(record, dict) and isinstance(record.get("input"), str):
                    self.records[record["input"]] = record

    def is_done(self, input_path: Path, output: Path, key: str, out_dir: Path) -> bool:
        """True when the latest record of ``input_path`` is done with this ``key`` and ``output``, the
        input is unchanged (size, mtime) and the output file is the one that record wrote."""
        record = self.records.get(str(input_path.resolve()))
        return (record is not None and record.get("status") == "done" and record.get("key") == key
                and record.get("output") == output.as_posix()
                and record.get("source") == file_stamp(input_path)
                and record.get("written") == file_stamp(out_dir / output))

    def add(self, record: dict[str, Any]) -> None:
        """Append ``record`` durably (flush + fsync) and keep it as the input's latest."""
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            self.records[record["input"]] = record
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def rewrite(self, order: list[str] | None = None) -> None:
        """Replace the file atomically with one record per input: those in ``order`` (absolute input
        paths) first, in that order, then the others sorted."""
        with self._lock:
            if not self.records and not self.path.exists():
                return
            first = [k for k in order or [] if k in self.records]
            rest = sorted(set(self.records) - set(first))
            text = "".join(json.dumps(self.records[k], sort_keys=True) + "\n" for k in first + rest)
            atomic_write_bytes(self.path, text.encode("utf-8"))


TEMP_MARK = ".tinct-part"


def temp_path(target: Path) -> Path:
    """The temporary file a result is written to before it is renamed onto ``target``."""
    return target.with_name(f".{target.name}.{os.getpid()}{TEMP_MARK}")


def write_temp(target: Path, payload: bytes) -> Path:
    """Write ``payload`` to :func:`temp_path` of ``target``, fsynced; returns the temporary file."""
    temp = temp_path(target)
    temp.parent.mkdir(parents=True, exist_ok=True)
    write_synced(open(temp, "wb"), temp, payload)
    return temp


def atomic_write_bytes(target: Path, payload: bytes) -> None:
    """``payload`` to ``target`` through a temporary file and :func:`os.replace`."""
    temp = write_temp(target, payload)
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def clean_temporaries(out_dir: Path) -> int:
    """Remove temporary files that killed runs left in ``out_dir`` (this module's ``.*.tinct-part``
    and the ``.<name>.*.tmp`` of :func:`tinct.io.write_image`); returns how many."""
    removed = 0
    for folder, _dirs, files in os.walk(out_dir):
        for name in files:
            ours = name.endswith(TEMP_MARK) or (name.endswith(".tmp") and any(
                f"{ext}." in name.lower() for ext in IMAGE_EXTENSIONS))
            if name.startswith(".") and ours:
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed
