"""The mountpoint: a live datumfs mount there is refused; one whose daemon was killed is
replaced, without anyone running fusermount3 first."""

import errno
import os
import signal
import time

from conftest import daemon_pids, is_mounted


def mounts_at(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return [line for line in f if line.split()[1] == path]


def test_mounting_on_a_datumfs_mount_is_refused(mounts, dataset, tmp_path):
    mnt = mounts.mount(dataset["inputs"])
    p = mounts.run("--inputs", str(dataset["inputs"]), "--api", str(tmp_path / "no-api.json"),
                   "--cache-dir", str(tmp_path / "cache"), mnt)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1] == (f"datumfs: {mnt}: already a datumfs mount (unmount it first: "
                                f"fusermount3 -u {mnt})")
    assert len(mounts_at(mnt)) == 1
    assert open(os.path.join(mnt, "train/labels.csv"), "rb").read() == b"id,label\n1,dog\n2,cat\n"


def test_a_mount_whose_daemon_was_killed_is_replaced(mounts, dataset, tmp_path):
    mnt = mounts.mount(dataset["inputs"])
    for pid in daemon_pids(mnt):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while daemon_pids(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.statvfs(mnt)
        assert False, "the dead mount still answers"
    except OSError as e:
        assert e.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    mounts.mount(dataset["inputs"], mountpoint=mnt)
    assert len(mounts_at(mnt)) == 1  # the dead one was detached, not stacked under
    assert open(os.path.join(mnt, "train/labels.csv"), "rb").read() == b"id,label\n1,dog\n2,cat\n"
    assert is_mounted(mnt)
