"""The Ray backend: the same batch on a Ray cluster, one model per worker (an actor).

The driver (the ``tinct colorize`` process) reads each input's bytes and streams them to the
actors in chunks, at most two chunks in flight per actor; actors decode, colorize and encode
(:meth:`tinct.batch.work.Worker.run`) and return PNG bytes, which the driver commits exactly as
the local backend does. So outputs and the manifest are the local run's, and nodes need tinct
installed but not the files. A killed actor is restarted and its chunk retried (twice); when no
actor is left, the chunks not done stay undone (the next run resumes them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinct.batch.local import read_input
from tinct.batch.plan import Job
from tinct.batch.work import Result, Worker, WorkSpec, error_line
from tinct.errors import TinctError

CHUNK = 4
"""Images per task sent to an actor."""


class _RayWorker:
    """The actor: one :class:`Worker` (method loaded once), chunks of ``(name, bytes)`` in."""

    def __init__(self, spec: WorkSpec) -> None:
        self.worker = Worker(spec)

    def run_chunk(self, items: list[tuple[str, bytes]]) -> list[Result]:
        return [self.worker.run(name, data) for name, data in items]

    def pid(self) -> int:
        return os.getpid()


def import_ray() -> Any:
    """``import ray``, or a one-line :class:`TinctError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise TinctError("the Ray backend needs Ray: pip install 'tinct[ray]' (or pip install ray)") from None
    return ray


LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0 before Ray is imported, Ray's processes bind and advertise 127.0.0.1 only (a
single-machine cluster); Ray otherwise replaces 127.0.0.1 by the machine's reachable address."""


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``: the one ``ray start`` runs on this machine), or
    start a private single-machine one on 127.0.0.1 when None."""
    if address is None:
        os.environ.setdefault(LOCAL_ONLY, "0")
    elif "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get(
            "RAY_AUTH_TOKEN_PATH") or (Path.home() / ".ray" / "auth_token").is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"  # as `ray start` does when a token exists; harmless if unused
    ray = import_ray()
    if not ray.is_initialized():
        if address is None:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        else:
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise TinctError(f"cannot join the Ray cluster at {address} ({' '.join(str(exc).split())}); "
                                 "is it running, and does this shell have its token (RAY_AUTH_MODE=token, "
                                 "see docs/scale.md)?") from None
    return ray


def make_backend(address: str | None, workers: int | None, chunk: int = CHUNK
                 ) -> Callable[[WorkSpec, list[Job], Callable[[Job, Result], None]], None]:
    """A backend for :meth:`tinct.batch.run.Batch.run` running on Ray with ``workers`` actors
    (default: one per CPU of the cluster)."""

    def backend(spec: WorkSpec, jobs: list[Job], commit: Callable[[Job, Result], None]) -> None:
        ray = connect(address)
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor_class = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_RayWorker)
        actors = [actor_class.remote(spec) for _ in range(min(count, max(1, len(jobs))))]
        chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
        _stream(ray, actors, chunks, commit)

    return backend


def _stream(ray: Any, actors: list[Any], chunks: list[list[Job]], commit: Callable[[Job, Result], None]
            ) -> None:
    """Keep two chunks in flight per live actor; commit results as they come back."""
    pending: dict[Any, tuple[Any, list[Job]]] = {}
    queue = list(reversed(chunks))
    load = {id(a): 0 for a in actors}
    alive = list(actors)

    def submit() -> None:
        for actor in alive:
            while queue and load[id(actor)] < 2:
                jobs = queue.pop()
                items = []
                for job in jobs:
                    try:
                        items.append((str(job.input), read_input(job.input)))
                    except TinctError as exc:
                        commit(job, Result(str(job.input), None, error_line(str(job.input), exc)))
                kept = [job for job in jobs if any(name == str(job.input) for name, _ in items)]
                if kept:
                    pending[actor.run_chunk.remote(items)] = (actor, kept)
                    load[id(actor)] += 1

    submit()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        actor, jobs = pending.pop(ready[0])
        load[id(actor)] -= 1
        try:
            results = ray.get(ready[0])
        except ray.exceptions.RayActorError as exc:
            alive = [a for a in alive if a is not actor]
            queue.append(jobs)
            if not alive:
                cause = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]
                raise TinctError(f"every Ray worker died ({cause}); {sum(len(c) for c in queue)} image(s) "
                                 "are not done; run the same command again to finish them") from None
            submit()
            continue
        for job, result in zip(jobs, results, strict=True):
            commit(job, result)
        submit()
