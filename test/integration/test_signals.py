"""The daemon unmounts cleanly on SIGTERM and SIGINT, and exits when unmounted."""

import os
import signal
import subprocess
import time

import pytest

from conftest import daemon_pids, is_mounted, wait_for


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_unmounts_and_exits(mounts, dataset, sig):
    mnt = mounts.mount(dataset["inputs"])
    pids = daemon_pids(mnt)
    assert len(pids) == 1, pids
    assert open(os.path.join(mnt, "train/labels.csv"), "rb").read().startswith(b"id,label")
    os.kill(pids[0], sig)
    assert wait_for(lambda: not is_mounted(mnt)), "still mounted after the signal"
    assert wait_for(lambda: not daemon_pids(mnt)), "daemon still running"


def test_signal_during_a_read_still_unmounts(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    pid = daemon_pids(mnt)[0]
    reader = subprocess.Popen(["sh", "-c", f"while true; do cat {mnt}/train/dogs/* >/dev/null "
                                           "2>&1 || exit 0; done"])
    time.sleep(0.3)
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not is_mounted(mnt))
    assert wait_for(lambda: not daemon_pids(mnt))
    reader.kill()
    reader.wait()


def test_unmount_makes_the_daemon_exit(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    assert daemon_pids(mnt)
    subprocess.run(["fusermount3", "-u", mnt], check=True)
    assert wait_for(lambda: not daemon_pids(mnt))
