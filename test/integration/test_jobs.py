"""What ordinary jobs do to a mount: many processes that open, read a little and close at once.
Every byte is compared with the store's, and the daemon must outlive them all."""

import multiprocessing
import os
import random
import time

from conftest import daemon_pids
from store import write_inputs

MiB = 1 << 20
TRUTH = {}  # path -> bytes, set before the workers fork (arguments would be pickled)


def open_read_close(path, seed, seconds):
    """Opens the file, preads 4 x 1 MiB in a row at a random offset, closes; again and again.
    Returns the number of rounds, or a string saying what went wrong."""
    data = TRUTH[path]
    rng = random.Random(seed)
    rounds = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            return f"open: {e}"
        try:
            off = rng.randrange(0, len(data) - 4 * MiB)
            for i in range(4):
                got = os.pread(fd, MiB, off + i * MiB)
                if got != data[off + i * MiB:off + (i + 1) * MiB]:
                    return f"wrong bytes at {off + i * MiB}"
        except OSError as e:
            return f"pread: {e}"
        finally:
            os.close(fd)
        rounds += 1
    return rounds


def test_processes_closing_as_their_reads_are_answered_keep_the_daemon_alive(
        mounts, tmp_path, store):
    # Each reply is followed at once by the close, so the handle is released while the read
    # that was just answered is still starting its read-ahead.
    data = random.Random(11).randbytes(48 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"big": [("blob.bin", data)]})
    mnt = mounts.mount(inputs)
    pids = daemon_pids(mnt)
    assert len(pids) == 1
    path = os.path.join(mnt, "big/blob.bin")
    TRUTH[path] = data
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.starmap(open_read_close, [(path, seed, 8.0) for seed in range(8)])
    assert all(isinstance(r, int) and r > 0 for r in results), results
    assert daemon_pids(mnt) == pids
    with open(path, "rb") as f:
        assert f.read(MiB) == data[:MiB]
