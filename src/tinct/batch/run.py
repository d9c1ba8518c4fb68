"""The batch driver: skip what is done, run the rest on a backend, commit each result safely.

Every backend hands results to :meth:`Batch.commit`, which alone writes the output folder: the
PNG goes to a temporary file (fsynced), its manifest record is appended, then the file is renamed
into place (see :mod:`tinct.batch.manifest` for why this order loses nothing on a kill).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinct.batch.manifest import Manifest, clean_temporaries, file_stamp, write_temp
from tinct.batch.plan import Job
from tinct.batch.work import Result, WorkSpec
from tinct.errors import TinctError

Backend = Callable[[WorkSpec, list[Job], Callable[[Job, Result], None]], None]


@dataclass
class Counts:
    """What a run did: ``done`` written now, ``skipped`` done before, ``failed``, ``left`` (not reached)."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    left: int = 0
    failures: list[str] = field(default_factory=list)


def config_key(spec: WorkSpec, weights_file: Path | None) -> str:
    """A hash of everything that changes an output: method, options, weights file, the reference,
    hints and caption, bit depth and size limit."""
    digest = hashlib.sha256()
    parts = {"method": spec.method, "options": {k: str(v) for k, v in sorted(spec.options.items())},
             "caption": spec.caption, "bit_depth": spec.bit_depth, "max_pixels": spec.max_pixels}
    digest.update(json.dumps(parts, sort_keys=True).encode())
    for blob in (spec.reference, spec.hints):
        digest.update(b"-" if blob is None else hashlib.sha256(blob[1]).digest())
    if weights_file is not None and weights_file.is_file():
        digest.update(hashlib.sha256(weights_file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def lock_folder(out_dir: Path) -> int:
    """Hold an exclusive lock on ``out_dir`` (released when the process ends, also on SIGKILL), so
    that two runs never write one folder; the open descriptor is returned."""
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise TinctError(f"another tinct colorize is writing to {out_dir}; wait for it (or stop it) and run "
                         "this again") from None
    return fd


class Batch:
    """One run over ``jobs`` into ``out_dir``: :meth:`todo` decides, :meth:`commit` writes."""

    def __init__(self, jobs: list[Job], out_dir: Path, spec: WorkSpec, *, key: str, force: bool = False,
                 overwrite: bool = False, quiet: bool = False) -> None:
        self.jobs, self.out_dir, self.spec, self.key = jobs, out_dir, spec, key
        self.force, self.overwrite, self.quiet = force, overwrite, quiet
        self.counts = Counts()
        self._lock = threading.Lock()
        self._bar: tqdm | None = None
        self.manifest = Manifest(out_dir)  # read again under the folder's lock by :meth:`run`

    @property
    def order(self) -> list[str]:
        return [str(job.input.resolve()) for job in self.jobs]

    def say(self, line: str, *, always: bool = False) -> None:
        if always or not self.quiet:
            tqdm.write(line, file=sys.stderr)

    def todo(self) -> list[Job]:
        """The jobs to run now; jobs that cannot run (an input would be replaced, an output of
        someone else's exists) are failed here."""
        todo = []
        for job in self.jobs:
            target = self.out_dir / job.output
            record = self.manifest.records.get(str(job.input.resolve()), {})
            ours = record.get("output") == job.output.as_posix()
            if job.problem:
                self._fail(job, job.problem)
            elif not self.force and self.manifest.is_done(job.input, job.output, self.key, self.out_dir):
                self.counts.skipped += 1
            elif target.exists() and not (ours or self.overwrite or self.force):
                self._fail(job, f"output {target} exists and is not in this folder's manifest; pass "
                                "--overwrite to replace it")
            else:
                todo.append(job)
        return todo

    def run(self, backend: Backend) -> Counts:
        """Run the jobs that are not done on ``backend``; the manifest is compacted at the end, also
        when interrupted (``KeyboardInterrupt`` propagates after the counts are set). The output
        folder is locked for the run; temporary files of killed runs are removed first."""
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock = lock_folder(self.out_dir)
        except OSError as exc:
            reason = exc.strerror or exc
            raise TinctError(f"cannot write to the output folder {self.out_dir} ({reason})") from None
        try:
            self.manifest = Manifest(self.out_dir)
            removed = clean_temporaries(self.out_dir)
            if removed:
                self.say(f"note: removed {removed} temporary file(s) left by an interrupted run")
            self.manifest.rewrite(self.order)
            todo = self.todo()
            self.counts.left = len(todo)
            show = not self.quiet and len(todo) > 1 and sys.stderr.isatty()
            self._bar = tqdm(total=len(todo), desc=f"colorize ({self.spec.method})", unit="img", leave=False,
                             disable=not show)
            try:
                if todo:
                    backend(self.spec, todo, self.commit)
            finally:
                self._bar.close()
                self.manifest.rewrite(self.order)
        finally:
            os.close(lock)
        return self.counts

    def commit(self, job: Job, result: Result) -> None:
        """Write one result: temporary file, manifest record, rename (thread-safe)."""
        for note in result.notes:
            self.say(note, always=note.startswith("warning:"))
        if result.payload is None:
            self._fail(job, result.error or "failed", seconds=result.seconds)
        else:
            target = self.out_dir / job.output
            temp = write_temp(target, result.payload)
            self.manifest.add(self._record(job, "done", None, result.seconds, written=file_stamp(temp)))
            os.replace(temp, target)
            if not self.quiet:
                tqdm.write(str(target))
            with self._lock:
                self.counts.done += 1
        with self._lock:
            self.counts.left -= 1
            if self._bar is not None:
                self._bar.update(1)

    def _fail(self, job: Job, error: str, *, seconds: float = 0.0) -> None:
        self.manifest.add(self._record(job, "failed", error, seconds, written=None))
        self.say(f"error: {error}", always=True)
        with self._lock:
            self.counts.failed += 1
            self.counts.failures.append(error)

    def _record(self, job: Job, status: str, error: str | None, seconds: float,
                written: dict[str, int] | None) -> dict[str, Any]:
        options = {k: str(v) for k, v in sorted(self.spec.options.items()) if k != "weights"}
        extra = {k: v for k, v in (("reference", self.spec.reference), ("hints", self.spec.hints)) if v}
        for kind, blob in extra.items():
            options[kind] = blob[0]
        if self.spec.caption is not None:
            options["caption"] = self.spec.caption
        if self.spec.bit_depth is not None:
            options["bit_depth"] = self.spec.bit_depth
        return {"input": str(job.input.resolve()), "output": job.output.as_posix(),
                "method": self.spec.method, "options": options, "weights": self.spec.options.get("weights"),
                "status": status, "error": error, "seconds": round(seconds, 3),
                "source": file_stamp(job.input), "key": self.key, "written": written}
