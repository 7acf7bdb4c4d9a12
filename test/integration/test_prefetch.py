"""`datumfs prefetch`: warms whole directories into the cache (later reads fetch nothing),
skips what is cached, shows a bar on a terminal and plain lines otherwise, and names every
file it could not fetch with a non-zero exit."""

import os
import pty
import re
import shutil
import subprocess
import time

from conftest import DATUMFS, require
from store import Store, write_inputs


def prefetch(*args, **kw):
    return subprocess.run([DATUMFS, "prefetch", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def read_tree(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.relpath(os.path.join(d, n), root)] = f.read()
    return out


def test_prefetch_of_a_directory_makes_later_reads_fetch_nothing(mounts, dataset, store):
    mnt = mounts.mount(dataset["inputs"])
    train = dict(dataset["files"]["train"])
    mark = store.mark()
    p = prefetch("-j", "3", "--interval", "0.05", os.path.join(mnt, "train"))
    assert p.returncode == 0, p.stderr
    # four files to fetch; empty.txt has nothing to cache
    assert re.search(r"^prefetch: 4 files \(1\.8 MB\) in [\d.]+ s; 1 already cached; 0 failed$",
                     p.stderr, re.M), p.stderr
    assert re.search(r"^prefetch: 1\.8 MB / 1\.8 MB \(100%\)", p.stderr, re.M), p.stderr
    fetched = store.bytes_sent(mark)
    assert sum(len(d) for d in train.values()) <= fetched <= sum(len(d) for d in train.values()) * 1.05

    # A second mount on the same cache (nothing in its page cache) reads every byte from it.
    mnt2 = mounts.mount(dataset["inputs"])
    mark = store.mark()
    assert read_tree(os.path.join(mnt2, "train")) == train
    assert store.requests(mark) == []

    # Prefetching again skips everything; "test" was not prefetched and still is not cached.
    p = prefetch(os.path.join(mnt, "train"))
    assert p.returncode == 0
    assert "prefetch: 0 files (0 B)" in p.stderr and "5 already cached" in p.stderr
    assert os.getxattr(os.path.join(mnt, "test/one.bin"), "user.datumfs.cached_bytes") == b"0"


def test_prefetch_draws_a_bar_on_a_terminal_that_reaches_100(mounts, store, tmp_path):
    files = {"big": [(f"part-{i}.bin", os.urandom(3 << 20)) for i in range(4)]}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs)
    master, slave = pty.openpty()
    proc = subprocess.Popen([DATUMFS, "prefetch", "-j", "2", mnt], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = out.decode()
    frames = [f for f in re.split(r"[\r\n]", text) if f.startswith("[")]
    assert frames, text
    assert re.match(r"^\[#+\] 100%  12\.6 MB / 12\.6 MB  .*/s  ETA 0:00  4/4 files\x1b\[K$",
                    frames[-1]), frames[-1]
    assert "prefetch: 4 files (12.6 MB)" in text
    for name, data in files["big"]:
        assert os.getxattr(os.path.join(mnt, "big", name),
                           "user.datumfs.cached_bytes") == str(len(data)).encode()


def test_a_failed_prefetch_names_each_file_and_exits_1(mounts, dataset, store, tmp_path):
    os.remove(os.path.join(store.root, "train/labels.csv"))  # the store answers 404
    mnt = mounts.mount(dataset["inputs"], args=["--read-timeout", "5"])
    missing = os.path.join(mnt, "train/nope.bin")
    outside = str(tmp_path)
    p = prefetch(os.path.join(mnt, "train"), missing, outside)
    assert p.returncode == 1
    failed = re.findall(r"^datumfs: failed: (.*)$", p.stderr, re.M)
    assert len(failed) == 3, p.stderr
    assert any(f.startswith(os.path.join(mnt, "train/labels.csv") + ":") for f in failed)
    assert any(f.startswith(missing + ":") and "No such file" in f for f in failed)
    assert f"{outside}: not in a datumfs mount" in failed
    assert "; 3 failed" in p.stderr
    # the others were fetched all the same
    for name, data in dataset["files"]["train"]:
        if name not in ("labels.csv", "empty.txt"):
            assert os.getxattr(os.path.join(mnt, "train", name),
                               "user.datumfs.cached_bytes") == str(len(data)).encode()


def in_flight(requests, t):
    return sum(1 for r in requests if r["start"] <= t < r["end"])


def test_a_jobs_reads_take_priority_over_prefetching(mounts, tmp_path):
    """Prefetching runs wide while alone; once the job reads, at most two prefetch
    transfers run (FetchOptions::background_when_busy), counted from nginx's log."""
    require(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    store = Store(str(tmp_path / "slow-store"), rate_per_connection="2m").start()
    try:
        files = {"bulk": [(f"b{i:02d}.bin", os.urandom(1 << 20)) for i in range(48)],
                 "job": [("data.bin", os.urandom(6 << 20))]}
        inputs = tmp_path / "inputs.json"
        write_inputs(inputs, store, files)
        mnt = mounts.mount(inputs)
        prefetching = subprocess.Popen([DATUMFS, "prefetch", "-q", "-j", "6",
                                        os.path.join(mnt, "bulk")],
                                       stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # prefetch is running wide
        with open(os.path.join(mnt, "job/data.bin"), "rb") as f:
            assert f.read() == files["job"][0][1]
        _, err = prefetching.communicate(timeout=120)
        assert prefetching.returncode == 0, err
        log = store.requests()
    finally:
        store.stop()
    bulk = [r for r in log if "/bulk/" in r["uri"]]
    job = [r for r in log if "/job/" in r["uri"]]
    assert len(bulk) >= 48 and job
    job_start, job_end = min(r["start"] for r in job), max(r["end"] for r in job)
    alone = max(in_flight(bulk, r["start"]) for r in bulk if r["start"] < job_start)
    assert alone >= 4, "prefetch alone should use several connections"
    started_during_job = [r for r in bulk if job_start + 0.1 <= r["start"] <= job_end]
    crowded = [in_flight(bulk, r["start"]) for r in started_during_job]
    assert all(n <= 2 for n in crowded), (crowded, job_start, job_end)
