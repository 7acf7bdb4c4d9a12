"""The cache under pressure: a disk that fills up, a daemon killed at random moments."""

import hashlib
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import daemon_pids, is_mounted, unmount
from store import write_inputs

MiB = 1 << 20


@pytest.fixture
def small_fs(tmp_path):
    """A 48 MiB tmpfs: a real filesystem that really fills up."""
    path = tmp_path / "smallfs"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(path)],
                   check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)])


def du_bytes(path):
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read_and_check(mnt, files):
    for input_name, entries in files.items():
        for name, data in entries:
            with open(os.path.join(mnt, input_name, name), "rb") as f:
                assert sha(f.read()) == sha(data), name


def test_a_dataset_larger_than_the_disk_reads_exactly_while_another_writer_fills_it(
        tmp_path, mounts, store, small_fs):
    rng = random.Random(11)
    files = {"ds": [(f"f{i}.bin", rng.randbytes(8 * MiB)) for i in range(10)]}  # 80 MiB
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs, cache=small_fs / "cache", args=["--min-free", "6M"])
    read_and_check(mnt, files)  # more than the filesystem holds
    cached_before = du_bytes(small_fs / "cache")
    assert cached_before > 16 * MiB

    # The job's own writes come first: the cache gives way to them.
    result = {}

    def filler():
        written, deadline = 0, time.time() + 30
        with open(small_fs / "job-output.bin", "wb", buffering=0) as f:
            while written < 24 * MiB and time.time() < deadline:
                try:
                    f.write(b"o" * MiB)
                    written += MiB
                except OSError:
                    time.sleep(0.05)
        result["written"] = written

    t = threading.Thread(target=filler)
    t.start()
    read_and_check(mnt, files)  # reads go on meanwhile, and stay exact
    t.join()
    assert result["written"] == 24 * MiB, "the job's writes were starved"
    assert du_bytes(small_fs / "cache") < cached_before


def test_enospc_on_a_cache_write_never_fails_a_read(tmp_path, mounts, store, small_fs):
    rng = random.Random(12)
    files = {"ds": [(f"f{i}.bin", rng.randbytes(16 * MiB)) for i in range(4)]}  # 64 MiB
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    # No free-space floor: the cache runs into ENOSPC itself.
    mnt = mounts.mount(inputs, cache=small_fs / "cache", args=["--min-free", "0"])
    read_and_check(mnt, files)
    read_and_check(mnt, files)


def test_kill_9_at_random_moments_never_leads_to_wrong_bytes(tmp_path, mounts, store):
    rng = random.Random(13)
    files = {"ds": [(f"f{i}.bin", rng.randbytes(rng.choice([3, 5, 9]) * MiB + rng.randrange(4096)))
                    for i in range(6)] + [(f"small{i}", rng.randbytes(5000)) for i in range(20)]}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    cache = tmp_path / "cache"
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    for round_ in range(20):
        mounts.mount(inputs, mountpoint=mnt, cache=cache)
        pid = daemon_pids(mnt)[0]
        readers = [subprocess.Popen(["sh", "-c", f"cat {mnt}/ds/* > /dev/null 2>&1"])
                   for _ in range(3)]
        time.sleep(rng.uniform(0.02, 0.4))
        os.kill(pid, signal.SIGKILL)
        for r in readers:
            r.wait(timeout=30)
        unmount(mnt)
        assert not is_mounted(mnt)
    mounts.mount(inputs, mountpoint=mnt, cache=cache)
    read_and_check(mnt, files)
    assert du_bytes(cache) > 0
