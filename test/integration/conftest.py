"""Fixtures: a real nginx store, and real datumfs mounts that are always unmounted."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from prereq import require
from store import Store

DATUMFS = os.environ.get("DATUMFS_BIN") or shutil.which("datumfs")
# True when the daemon was built with sanitizers (memory figures then mean nothing).
SANITIZED = os.environ.get("DATUMFS_SANITIZE", "none") != "none"

# A detached daemon's stderr is /dev/null, so the sanitizers write their reports to files here
# (log_path), and every test fails that leaves one behind.
SANITIZER_LOGS = tempfile.mkdtemp(prefix="datumfs-sanitizer-") if SANITIZED else None
if SANITIZER_LOGS:
    for var in ("ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"):
        os.environ[var] = ":".join(filter(None, (os.environ.get(var),
                                                 f"log_path={SANITIZER_LOGS}/report")))


def take_sanitizer_reports():
    """The reports written since the last call (and removes them), as one string."""
    if not SANITIZER_LOGS:
        return ""
    text = []
    for name in sorted(os.listdir(SANITIZER_LOGS)):
        path = os.path.join(SANITIZER_LOGS, name)
        with open(path, errors="replace") as f:
            text.append(f"--- {name}\n{f.read()}")
        os.unlink(path)
    return "\n".join(text)


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fails the test if any datumfs process of it wrote a sanitizer report. Set up first, so
    it checks after every other fixture has unmounted (and a daemon had time to exit)."""
    earlier = take_sanitizer_reports()  # of a daemon of an earlier test that exited late
    yield
    if SANITIZER_LOGS:
        time.sleep(0.2)  # a daemon writes a leak report as it exits, just after the unmount
    reports = take_sanitizer_reports()
    if earlier:
        reports = f"(written before this test began)\n{earlier}\n{reports}"
    if reports:
        pytest.fail("sanitizer report:\n" + reports[:20000], pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """The last daemons exit after the last test: their reports fail the run too."""
    if SANITIZER_LOGS:
        time.sleep(1)
        reports = take_sanitizer_reports()
        if reports:
            print("\nsanitizer report after the last test:\n" + reports[:20000])
            session.exitstatus = 1
        shutil.rmtree(SANITIZER_LOGS, ignore_errors=True)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A CA of this test session and server certificates it signs (tls.Certs)."""
    require(shutil.which("openssl"), "openssl is not installed")
    from tls import Certs
    return Certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def store(tmp_path, certs, monkeypatch):
    """The test store, over HTTPS (as every real store is) with a certificate of the session's
    CA, which datumfs trusts through DATUMFS_CA_FILE. Tests that need plain HTTP make their own
    Store()."""
    require(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    monkeypatch.setenv("DATUMFS_CA_FILE", certs.ca)
    s = Store(str(tmp_path / "store"), tls=certs.good).start()
    yield s
    s.stop()


@pytest.fixture
def store_at_rate(tmp_path):
    """Starts nginx stores capping each connection at a rate (`start("16m")`), so that
    transfers last long enough to be seen overlapping; stops them after the test."""
    require(os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    started = []

    def start(rate):
        s = Store(str(tmp_path / f"store-{rate}"), rate_per_connection=rate).start()
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def stats_of(mountpoint):
    """The mount's `datumfs stats` figures, read from its xattr."""
    return json.loads(os.getxattr(mountpoint, "user.datumfs.stats"))


def wait_for(condition, timeout=10):
    """Polls `condition` until it is true (True) or `timeout` seconds pass (False): for what
    happens a moment after the call that caused it (a log line at exit, nginx's access log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


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
        daemons = [pid for p in self.points for pid in daemon_pids(p)]
        for p in self.points:
            unmount(p)
        for p in self.points:
            assert not is_mounted(p), f"{p} is still mounted"
        # A daemon goes on for a moment after its unmount (its last index writes): a test that
        # changes the cache next must not race it.
        wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") and not is_zombie(pid)
                                 for pid in daemons), timeout=20)


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


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
