"""An idle mount sleeps: no thread of the daemon wakes up on a short timer while nothing is
being read (a 10 ms poll would cost 100 wake-ups a second for the mount's whole life)."""

import os
import time

from conftest import daemon_pids


def wakeups(pid):
    """Voluntary context switches of every thread of `pid` so far, by thread id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        out[tid] = int(line.split()[1])
        except FileNotFoundError:  # a thread that ended
            pass
    return out


def test_an_idle_mount_does_not_poll(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    for name, data in dataset["files"]["train"][:3]:
        with open(os.path.join(mnt, "train", name), "rb") as f:
            assert f.read() == data
    [pid] = daemon_pids(mnt)
    time.sleep(1.5)  # the cache writes and the read-through lines are done
    before = wakeups(pid)
    time.sleep(3)
    after = wakeups(pid)
    woke = {tid: after[tid] - before.get(tid, 0) for tid in after}
    # Timers of a second or more are fine (the cache's flush of access times, its check that
    # its directory is still there): a few wake-ups in 3 s. A 10 ms poll is about 300.
    # ThreadSanitizer's runtime has threads of its own that wake ten times a second.
    limit = 45 if "thread" in os.environ.get("DATUMFS_SANITIZE", "") else 12
    assert max(woke.values()) <= limit, woke
