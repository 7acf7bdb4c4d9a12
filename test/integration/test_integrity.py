"""A replaced object is an error, never a mix of two versions."""

import errno
import os
import random
import time

import pytest

from store import write_inputs

MiB = 1 << 20


def test_an_object_replaced_mid_read_gives_eio_not_mixed_bytes(tmp_path, mounts, store):
    rng = random.Random(61)
    old = rng.randbytes(8 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("obj.bin", old), ("other.txt", b"fine\n")]})
    mnt = mounts.mount(inputs, args=["--read-timeout", "3"])
    fd = os.open(os.path.join(mnt, "ds/obj.bin"), os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 0) == old[:4096]  # the first response records the ETag
        time.sleep(1.1)  # nginx's ETag holds the mtime in seconds
        path = os.path.join(store.root, "ds/obj.bin")
        with open(path, "wb") as f:
            f.write(rng.randbytes(8 * MiB))  # same size, other bytes
        before = store.mark()
        with pytest.raises(OSError) as e:
            os.pread(fd, 4096, 6 * MiB)
        assert e.value.errno == errno.EIO
        assert [r["status"] for r in store.requests(since=before)] == [412]
    finally:
        os.close(fd)
    assert open(os.path.join(mnt, "ds/other.txt"), "rb").read() == b"fine\n"


def test_an_object_of_another_size_gives_eio(tmp_path, mounts, store):
    data = random.Random(62).randbytes(100_000)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("obj.bin", data)]})
    with open(os.path.join(store.root, "ds/obj.bin"), "ab") as f:
        f.write(b"more")  # the store's object is no longer the manifest's
    mnt = mounts.mount(inputs, args=["--read-timeout", "3"])
    with pytest.raises(OSError) as e:
        open(os.path.join(mnt, "ds/obj.bin"), "rb").read()
    assert e.value.errno == errno.EIO


def test_a_checksum_mismatch_drops_the_cached_file(tmp_path, mounts, store):
    import json
    rng = random.Random(63)
    good, bad = rng.randbytes(3 * MiB), rng.randbytes(3 * MiB)
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, {"ds": [("good.bin", good), ("bad.bin", bad)]})
    for f in doc["ds"]["files"]:
        if f["name"] == "bad.bin":
            f["checksums"] = {"sha256": "0" * 64}  # not what the store holds
    inputs.write_text(json.dumps(doc))
    mnt = mounts.mount(inputs)
    for name, data in (("good.bin", good), ("bad.bin", bad)):
        assert open(os.path.join(mnt, "ds", name), "rb").read() == data
    time.sleep(0.5)  # the check runs in the background, once the file is whole
    # Read again in the same mount (as a job does after --download): cached again, and
    # checked and dropped again. (The kernel's page cache would answer without the daemon.)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")
    assert open(os.path.join(mnt, "ds/bad.bin"), "rb").read() == bad
    time.sleep(0.5)
    mounts.cleanup()
    mnt = mounts.mount(inputs)
    before = store.mark()
    assert open(os.path.join(mnt, "ds/good.bin"), "rb").read() == good
    assert store.requests(since=before) == []  # kept: its checksum matched
    assert open(os.path.join(mnt, "ds/bad.bin"), "rb").read() == bad
    assert store.bytes_sent(since=before) == len(bad)  # dropped: fetched again
