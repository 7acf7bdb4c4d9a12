"""Fixtures: a real nginx store, and real datumfs mounts that are always unmounted."""

import os
import shutil
import subprocess
import time

import pytest

from store import Store

DATUMFS = os.environ.get("DATUMFS_BIN") or shutil.which("datumfs")
IN_CI = os.environ.get("CI") == "true"
# True when the daemon was built with sanitizers (memory figures then mean nothing).
SANITIZED = os.environ.get("DATUMFS_SANITIZE", "none") != "none"


def require(condition, reason):
    """Skips outside CI; in CI a missing prerequisite is a failure, never a green skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail("prerequisite missing in CI: " + reason)
    pytest.skip(reason)


@pytest.fixture
def store(tmp_path):
    require(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    s = Store(str(tmp_path / "store")).start()
    yield s
    s.stop()


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def unmount(path):
    for cmd in (["fusermount3", "-u", path], ["umount", path], ["umount", "-l", path]):
        if not is_mounted(path):
            return
        subprocess.run(cmd, stderr=subprocess.DEVNULL)
        time.sleep(0.05)


class Mounts:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.points = []

    def run(self, *args, timeout=60):
        """Runs `datumfs mount ARGS`; returns the CompletedProcess."""
        return subprocess.run([DATUMFS, "mount", *args], capture_output=True, text=True,
                              timeout=timeout)

    def mount(self, inputs, mountpoint=None, args=(), api=None, cache=None):
        """Mounts with a cache of this test's own (`cache`, default tmp/cache) unless
        `args` names one."""
        mountpoint = mountpoint or str(self.tmp / f"mnt{len(self.points)}")
        os.makedirs(mountpoint, exist_ok=True)
        self.points.append(mountpoint)
        api = api or str(self.tmp / "no-api.json")
        if "--cache-dir" not in args:
            args = ["--cache-dir", str(cache or self.tmp / "cache"), *args]
        p = self.run("--inputs", str(inputs), "--api", api, *args, mountpoint)
        assert p.returncode == 0, p.stderr
        assert is_mounted(mountpoint)
        return mountpoint

    def cleanup(self):
        for p in self.points:
            unmount(p)
        for p in self.points:
            assert not is_mounted(p), f"{p} is still mounted"


@pytest.fixture
def mounts(tmp_path):
    require(DATUMFS and os.path.exists(DATUMFS), "datumfs binary not built (DATUMFS_BIN)")
    require(os.path.exists("/dev/fuse"), "/dev/fuse is missing")
    m = Mounts(tmp_path)
    yield m
    m.cleanup()


def daemon_pids(mountpoint):
    """Pids of datumfs processes serving `mountpoint` (from /proc/*/cmdline)."""
    mountpoint = os.path.realpath(mountpoint)
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"datumfs") and mountpoint.encode() in args:
            pids.append(int(pid))
    return pids


@pytest.fixture
def dataset(tmp_path, store):
    """A small dataset in the store, with its inputs.json: the files of the seed's shapes."""
    import random
    rng = random.Random(1234)
    files = {
        "train": [
            ("dogs/000201.jpg", rng.randbytes(1828388)),
            ("dogs/000202.jpg", rng.randbytes(4096 * 3)),
            ("cats/deep/er/x.bin", rng.randbytes(5000)),
            ("labels.csv", b"id,label\n1,dog\n2,cat\n"),
            ("empty.txt", b""),
        ],
        "test": [("one.bin", rng.randbytes(1))],
    }
    inputs = tmp_path / "inputs.json"
    from store import write_inputs
    doc = write_inputs(inputs, store, files)
    return {"inputs": inputs, "files": files, "doc": doc}
