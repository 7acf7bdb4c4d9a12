"""Two daemons, one cache: what one fetches the other does not fetch again."""

import hashlib
import os
import random
import threading

from store import write_inputs

MiB = 1 << 20


def test_two_daemons_reading_one_file_at_once_fetch_each_byte_once(tmp_path, mounts, store):
    data = random.Random(31).randbytes(64 * MiB + 777)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("big.bin", data)]})
    cache = tmp_path / "shared-cache"
    mnt_a = mounts.mount(inputs, cache=cache)
    mnt_b = mounts.mount(inputs, cache=cache)
    before = store.mark()
    digests = {}
    start = threading.Barrier(2)

    def read(mnt):
        start.wait()
        h = hashlib.sha256()
        with open(os.path.join(mnt, "ds/big.bin"), "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digests[mnt] = h.hexdigest()

    threads = [threading.Thread(target=read, args=(m,)) for m in (mnt_a, mnt_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = hashlib.sha256(data).hexdigest()
    assert digests == {mnt_a: want, mnt_b: want}
    assert store.bytes_sent(since=before) == len(data)


def test_a_file_read_by_one_daemon_costs_the_other_nothing(tmp_path, mounts, store):
    data = random.Random(32).randbytes(10 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    cache = tmp_path / "shared-cache"
    mnt_a = mounts.mount(inputs, cache=cache)
    mnt_b = mounts.mount(inputs, cache=cache)
    assert open(os.path.join(mnt_a, "ds/f.bin"), "rb").read() == data
    before = store.mark()
    assert open(os.path.join(mnt_b, "ds/f.bin"), "rb").read() == data
    assert store.requests(since=before) == []
