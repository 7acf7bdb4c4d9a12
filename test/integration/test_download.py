"""The background download of whole inputs (`mount --download`, issue 14): it fills the cache
of the inputs it names while the job reads, the job's reads going first; a remount reads
what it downloaded with no request; an unmount stops it and the next mount resumes it."""

import os
import random
import subprocess

import pytest

from conftest import DATUMFS, daemon_pids, is_zombie, stats_of, unmount, wait_for
from store import write_inputs

MiB = 1 << 20


@pytest.fixture
def slow_store(store_at_rate):
    """nginx capping each connection at 1 MB/s: a download of a few MiB takes seconds."""
    return store_at_rate("1m")


def cached_bytes(path):
    return int(os.getxattr(path, "user.datumfs.cached_bytes"))


def downloaded(mnt):
    s = stats_of(mnt)
    return s["download_bytes_total"] > 0 and s["download_bytes_done"] == s["download_bytes_total"]


def unmount_and_wait(mnt):
    pids = daemon_pids(mnt)
    unmount(mnt)
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and not is_zombie(p)
                                    for p in pids), timeout=20)


def files_of(seed, count, size):
    rng = random.Random(seed)
    return [(f"part-{i:03d}.bin", rng.randbytes(size + i)) for i in range(count)]


def in_flight(requests, t):
    return sum(1 for r in requests if r["start"] <= t < r["end"])


def test_download_fills_the_cache_while_the_jobs_reads_go_first(mounts, tmp_path, slow_store):
    store = slow_store
    files = {"bulk": files_of(1, 48, MiB), "job": [("data.bin", random.randbytes(4 * MiB))]}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    log = tmp_path / "datumfs.log"
    mnt = mounts.mount(inputs, args=["--download", "bulk", "--log-file", str(log)])
    assert wait_for(lambda: stats_of(mnt)["download_bytes_done"] > 0, timeout=20)
    with open(os.path.join(mnt, "job/data.bin"), "rb") as f:  # the job, while it downloads
        assert f.read() == files["job"][0][1]
    assert wait_for(lambda: downloaded(mnt), timeout=120)
    s = stats_of(mnt)
    assert s["download_bytes_total"] == sum(len(d) for _, d in files["bulk"])
    assert s["download_files_failed"] == 0 and s["download_eta_seconds"] == 0
    # Read means handed to the cache's writer thread: written a moment later.
    for name, data in files["bulk"] + files["job"]:
        path = os.path.join(mnt, "job" if name == "data.bin" else "bulk", name)
        assert wait_for(lambda: cached_bytes(path) == len(data)), name
    assert wait_for(lambda: "download: input bulk is in the cache: 48 files" in log.read_text())
    requests = store.requests()
    bulk = [r for r in requests if r["uri"].startswith("/data/bulk/")]
    job = [r for r in requests if r["uri"].startswith("/data/job/")]
    # Each byte of the download was sent once; the job's requests were not queued behind it:
    # they ran while download transfers did (so the job did read during the download), and no
    # more than two of those started meanwhile.
    assert sum(r["body_bytes"] for r in bulk) == s["download_bytes_total"]
    job_start, job_end = min(r["start"] for r in job), max(r["end"] for r in job)
    assert in_flight(bulk, job_start) >= 1
    started_during_job = [r for r in bulk if job_start + 0.1 <= r["start"] <= job_end]
    assert all(in_flight(bulk, r["start"]) <= 2 for r in started_during_job)


def test_a_remount_after_a_download_reads_with_no_request(mounts, tmp_path, store):
    files = {"a": files_of(2, 20, 100 * 1024), "b": files_of(3, 5, 300 * 1024)}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs, args=["--download", "all"])
    assert wait_for(lambda: downloaded(mnt), timeout=60)
    unmount_and_wait(mnt)
    again = mounts.mount(inputs)
    since = store.mark()
    for input_name, entries in files.items():
        for name, data in entries:
            with open(os.path.join(again, input_name, name), "rb") as f:
                assert f.read() == data, name
    assert store.requests(since) == []


def test_an_unmount_stops_the_download_and_the_next_mount_resumes_it(
        mounts, tmp_path, slow_store):
    store = slow_store
    files = {"data": files_of(4, 48, MiB // 2)}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs, args=["--download", "data"])
    assert wait_for(lambda: stats_of(mnt)["download_bytes_done"] >= 4 * MiB, timeout=30)

    def cached():  # the cache's writer thread may lag the download's reads a little
        return {name for name, data in files["data"]
                if cached_bytes(os.path.join(mnt, "data", name)) == len(data)}
    assert wait_for(lambda: cached(), timeout=10)
    done = cached()
    unmount_and_wait(mnt)  # stops the download in the middle
    assert 0 < len(done) < len(files["data"])
    since = store.mark()
    again = mounts.mount(inputs, args=["--download", "all"])
    assert wait_for(lambda: downloaded(again), timeout=120)
    asked = {os.path.basename(r["uri"]) for r in store.requests(since)}
    assert asked and not asked & done  # what the cache held was not fetched again
    for name, data in files["data"]:
        with open(os.path.join(again, "data", name), "rb") as f:
            assert f.read() == data, name


def test_download_of_an_input_that_is_not_there_is_a_usage_error(mounts, tmp_path, store):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"a": files_of(5, 1, 10)})
    mountpoint = tmp_path / "mnt"
    os.makedirs(mountpoint)
    p = subprocess.run([DATUMFS, "mount", "--inputs", str(inputs), "--download", "a,nope",
                        "--cache-dir", str(tmp_path / "cache"), str(mountpoint)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert 'no input named "nope" (its inputs: a)' in p.stderr and str(inputs) in p.stderr
