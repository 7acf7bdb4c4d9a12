"""Sequential readers get parallel ranged requests; random readers fetch only their pages;
memory stays bounded with many open files."""

import concurrent.futures
import hashlib
import os
import random

import pytest

from conftest import SANITIZED, daemon_pids, wait_for
from store import write_inputs

MiB = 1 << 20


@pytest.fixture
def slow_store(store_at_rate):
    """nginx capping each connection at 16 MB/s, so that transfers overlap measurably."""
    return store_at_rate("16m")


def max_overlap(requests):
    """The most requests that were being served at one moment (from nginx's log times)."""
    events = sorted([(r["start"], 1) for r in requests] + [(r["end"], -1) for r in requests])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_a_sequential_read_uses_parallel_ranges_and_fetches_each_byte_once(
        mounts, tmp_path, slow_store):
    data = random.Random(7).randbytes(96 * MiB)
    inputs = tmp_path / "seq.json"
    write_inputs(inputs, slow_store, {"seq": [("big.bin", data)]})
    mnt = mounts.mount(inputs)
    before = slow_store.mark()
    h = hashlib.sha256()
    with open(os.path.join(mnt, "seq/big.bin"), "rb") as f:
        while chunk := f.read(1 * MiB):
            h.update(chunk)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    reqs = slow_store.requests(since=before)
    assert all(r["status"] == 206 for r in reqs), reqs
    assert all(r["range"].startswith("bytes=") for r in reqs)
    sent = sum(r["body_bytes"] for r in reqs)
    assert len(data) <= sent <= 1.05 * len(data), (sent, len(reqs))
    sizes = [r["body_bytes"] // 1024 for r in reqs]
    # Not one request per kernel read (768 of them): parts of a quarter of the window, which
    # grows with what the reader has read (to 16 MiB here).
    assert len(reqs) <= 100, sizes
    assert len([s for s in sizes if s >= 2048]) >= 8, sizes
    assert len({r["connection"] for r in reqs}) >= 4
    assert max_overlap(reqs) >= 4, [(r["start"], r["end"]) for r in reqs]


def test_two_sequential_readers_of_one_file_share_the_transfers(mounts, tmp_path, slow_store):
    data = random.Random(8).randbytes(40 * MiB)
    inputs = tmp_path / "two.json"
    write_inputs(inputs, slow_store, {"two": [("f.bin", data)]})
    mnt = mounts.mount(inputs)
    before = slow_store.mark()

    def read_all():
        with open(os.path.join(mnt, "two/f.bin"), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        digests = list(pool.map(lambda _: read_all(), range(2)))
    assert digests == [hashlib.sha256(data).hexdigest()] * 2
    assert len(data) <= slow_store.bytes_sent(since=before) <= 1.05 * len(data)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# The bound documented in the README: the read-ahead budget (256 MiB), plus the reads being
# served (at most 1 MiB each), plus the daemon's own 64 MiB, whatever the number of open
# files. (This run peaks at about 310 MiB.)
RSS_BOUND_MIB = 384


def test_200_files_streaming_at_once_keep_memory_bounded(mounts, tmp_path, store):
    rng = random.Random(9)
    files = [(f"part-{i:03d}.bin", rng.randbytes(4 * MiB)) for i in range(200)]
    inputs = tmp_path / "many.json"
    write_inputs(inputs, store, {"many": files})
    mnt = mounts.mount(inputs)
    [pid] = daemon_pids(mnt)
    peak = 0
    handles = [open(os.path.join(mnt, "many", name), "rb") for name, _ in files]
    try:
        digests = [hashlib.sha256() for _ in files]
        # Round-robin 1 MiB at a time: all 200 streams are open and active together.
        for _ in range(4):
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                for h, chunk in zip(digests, pool.map(lambda f: f.read(MiB), handles)):
                    h.update(chunk)
            peak = max(peak, rss_kib(pid))
        for h, (name, data) in zip(digests, files):
            assert h.hexdigest() == hashlib.sha256(data).hexdigest(), name
    finally:
        for f in handles:
            f.close()
    sent = store.bytes_sent()
    assert sent <= 1.05 * 200 * 4 * MiB, sent
    if not SANITIZED:  # ASan's shadow memory and quarantine make RSS meaningless
        assert peak < RSS_BOUND_MIB * 1024, f"RSS peaked at {peak // 1024} MiB"


@pytest.mark.parametrize("stop_mib", [1, 8, 50])
def test_a_reader_that_stops_after_n_mib_costs_at_most_1_3_n_plus_2_mib(
        mounts, tmp_path, store, stop_mib):
    """`head -c N` of a big file: the read-ahead nobody reads is bounded (issue 14's target)."""
    data = random.Random(10).randbytes(200 * MiB)
    inputs = tmp_path / "stop.json"
    write_inputs(inputs, store, {"stop": [("big.bin", data)]})
    mnt = mounts.mount(inputs)
    before = store.mark()
    with open(os.path.join(mnt, "stop/big.bin"), "rb") as f:
        got = b"".join(f.read(128 * 1024) for _ in range(stop_mib * 8))
    assert got == data[:stop_mib * MiB]
    # Whatever was in flight at the close lands in nginx's log by the time the mount is quiet.
    sent = []
    wait_for(lambda: sent.append(store.bytes_sent(since=before)) or
             (len(sent) > 10 and sent[-1] == sent[-10]), timeout=20)
    assert sent[-1] <= 1.3 * stop_mib * MiB + 2 * MiB, (stop_mib, sent[-1] / MiB)
