"""``--backend ray``: the same outputs and manifest as the local batch, a killed worker is survived,
and a re-run resumes. A private Ray head is started on 127.0.0.1 (skipped without ``ray``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinct import io
from tinct.batch.manifest import MANIFEST_NAME

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray loads: bind 127.0.0.1 only
ray = pytest.importorskip("ray", reason="the Ray backend is optional: pip install 'tinct[ray]'")

SLOW_CLI = Path(__file__).parent / "fixtures" / "slow_cli.py"
COUNT = 12


@pytest.fixture(scope="module")
def head() -> str:
    """A Ray head on 127.0.0.1 with 2 CPUs, owned by this test process; its GCS address."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        assert address.startswith("127.0.0.1:")
        yield address
    finally:
        ray.shutdown()


def batch(cwd: Path, out: str, *extra: str, address: str | None = None, sleep: float = 0.0
          ) -> subprocess.Popen:
    env = dict(os.environ, TINCT_TEST_SLEEP=str(sleep), OMP_NUM_THREADS="1")
    if address:
        env["TINCT_TEST_RAY"] = address
        extra = ("--backend", "ray", "--address", address, "--workers", "2", *extra)
    return subprocess.Popen([sys.executable, str(SLOW_CLI), "colorize", "in", "-r", "--out-dir", out,
                             "--method", "slowgray", "-q", *extra], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return err


def records(out: Path) -> dict[str, dict]:
    """Manifest records by output, without what differs between any two runs (timings, mtimes)."""
    result = {}
    for line in (out / MANIFEST_NAME).read_text().splitlines():
        record = json.loads(line)
        record.pop("seconds")
        record["written"].pop("mtime_ns")
        result[record["output"]] = record
    return result


def own_ray_workers() -> list[int]:
    """PIDs of this test's ``_RayWorker`` actor processes (descendants of this process only)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"_RayWorker" not in (entry / "cmdline").read_bytes():
                continue
            pid = int(entry.name)
            while pid > 1:  # walk up to this process
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if pid == os.getpid():
                    pids.append(int(entry.name))
                    break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def test_ray_matches_local_survives_a_killed_worker_and_resumes(head, tmp_path):
    for i in range(COUNT):
        folder = tmp_path / "in" / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        io.write_image(folder / f"p{i}.png", np.random.default_rng(i).random((30, 40)).astype(np.float32))
    finish(batch(tmp_path, "local"))

    proc = batch(tmp_path, "cluster", address=head, sleep=0.25)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "cluster").rglob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = own_ray_workers()
    assert workers, "no Ray worker found to kill"
    os.kill(workers[0], signal.SIGKILL)  # its chunk is retried on the restarted actor
    finish(proc)

    local, cluster = tmp_path / "local", tmp_path / "cluster"
    assert records(cluster) == records(local)
    for name in records(local):
        assert (cluster / name).read_bytes() == (local / name).read_bytes()

    lost = sorted(cluster.rglob("*.png"))[:3]
    for path in lost:
        path.unlink()
    err = finish(batch(tmp_path, "cluster", address=head))
    assert f"{COUNT} of {COUNT} done (3 now, {COUNT - 3} before)" in err
    assert all(path.exists() for path in lost)
    assert records(cluster) == records(local)


def test_missing_ray_is_one_line(monkeypatch, capsys, tmp_path):
    from tinct import cli

    io.write_image(tmp_path / "a.png", np.zeros((4, 4), np.float32))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert cli.main(["colorize", "a.png", "--method", "gray", "--backend", "ray"]) == 1
    assert "pip install 'tinct[ray]'" in capsys.readouterr().err
