"""The local backend: one model in this process, decoding and encoding overlapped with compute.

Compute (the method) runs in the calling thread with all of torch's threads; a small pool of I/O
threads reads and decodes the next inputs ahead and encodes and commits finished ones, so the
model rarely waits for a codec. At most ``prefetch`` decoded inputs and ``prefetch`` results
wait in memory at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from tinct.batch.plan import Job
from tinct.batch.work import Decoded, Result, Worker, WorkSpec, decode_input, error_line
from tinct.errors import TinctError

Commit = Callable[[Job, Result], None]


def read_input(path: Path) -> bytes:
    """The bytes of an input file; a missing or unreadable file is one :class:`TinctError` line."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TinctError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise TinctError(f"{path}: is a directory, not an image") from None
    except OSError as exc:
        raise TinctError(f"{path}: cannot read ({exc.strerror or exc})") from None


def run_local(spec: WorkSpec, jobs: list[Job], commit: Commit, *, io_threads: int = 2,
              prefetch: int = 2) -> None:
    """Colorize ``jobs`` with one :class:`Worker`; ``commit(job, result)`` is called once per job (from
    an I/O thread or this one). On KeyboardInterrupt, results already computed are committed first."""

    def load(job: Job) -> Decoded:
        return decode_input(str(job.input), read_input(job.input), spec.max_pixels)

    def finish(job: Job, item: Decoded, rgb: object) -> None:
        try:
            payload = worker.encode(item, rgb)  # type: ignore[arg-type]
            result = Result(item.input, payload, None, item.notes, time.perf_counter() - item.started)
        except Exception as exc:  # noqa: BLE001 - one line per failed file
            result = Result(item.input, None, error_line(item.input, exc), item.notes)
        commit(job, result)

    with ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="tinct-io") as pool:
        decodes: deque[Future[Decoded]] = deque(pool.submit(load, job) for job in jobs[:prefetch + 1])
        writes: set[Future[None]] = set()
        queued = len(decodes)
        try:
            worker = Worker(spec)  # the first inputs decode meanwhile
            for job in jobs:
                while queued < len(jobs) and len(decodes) <= prefetch:
                    decodes.append(pool.submit(load, jobs[queued]))
                    queued += 1
                item = rgb = None
                try:
                    item = decodes.popleft().result()
                    rgb = worker.compute(item)
                except Exception as exc:  # noqa: BLE001 - the file's failure, the batch goes on
                    name = str(job.input)
                    commit(job, Result(name, None, error_line(name, exc), item.notes if item else []))
                    continue
                writes.add(pool.submit(finish, job, item, rgb))
                while len(writes) > prefetch:
                    done, writes = wait(writes, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
        finally:
            for future in decodes:
                future.cancel()
            for future in writes:
                future.result()  # encode and commit what is computed, even when interrupted
