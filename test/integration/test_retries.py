"""Faults between datumfs and the store, injected by a proxy: transient ones are retried
(resuming where the bytes stopped) and the reads are exact; persistent ones give EIO within
the read's deadline; either way the daemon keeps serving other files."""

import errno
import hashlib
import os
import random
import time

import pytest

from fault_proxy import FaultProxy
from store import Store, write_inputs

MiB = 1 << 20
READ_TIMEOUT = 4


@pytest.fixture
def store(tmp_path):
    """Plain HTTP: the fault proxy in front of it rewrites HTTP as it passes."""
    s = Store(str(tmp_path / "store")).start()
    yield s
    s.stop()


@pytest.fixture
def proxy(store):
    p = FaultProxy(store.port, stall_seconds=5)
    yield p
    p.stop()


@pytest.fixture
def setup(tmp_path, mounts, store, proxy):
    rng = random.Random(41)
    files = {"ds": [("big.bin", rng.randbytes(3 * MiB + 5)), ("other.txt", b"other file\n")]}
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, files)
    for entry in doc["ds"]["files"]:
        if entry["name"] == "big.bin":
            entry["storage_uri"] = proxy.url(entry["storage_uri"])
    import json
    inputs.write_text(json.dumps(doc))
    mnt = mounts.mount(inputs, args=["--read-timeout", str(READ_TIMEOUT), "--stall-timeout", "1"])
    return mnt, dict(files["ds"])


def read_file(path):
    t0 = time.monotonic()
    try:
        with open(path, "rb") as f:
            return f.read(), None, time.monotonic() - t0
    except OSError as e:
        return None, e.errno, time.monotonic() - t0


@pytest.mark.parametrize("mode", ["reset", "status_500", "status_503", "truncate", "long_body",
                                  "wrong_range", "ignore_range", "stall"])
def test_a_transient_fault_is_retried_and_the_read_is_exact(setup, proxy, mode):
    mnt, files = setup
    times = 1 if mode == "stall" else 2  # a stall costs a second or two of the read's four
    proxy.fail(mode, times=times)
    data, err, took = read_file(os.path.join(mnt, "ds/big.bin"))
    assert err is None, os.strerror(err)
    assert hashlib.sha256(data).digest() == hashlib.sha256(files["big.bin"]).digest()
    assert len(proxy.faults_seen()) == times
    assert took < READ_TIMEOUT * 2  # a whole file: several reads, each within its deadline
    assert open(os.path.join(mnt, "ds/other.txt"), "rb").read() == files["other.txt"]


def test_resumes_after_the_last_byte_received(setup, proxy, store):
    mnt, files = setup
    proxy.fail("truncate", times=1)
    before = store.mark()
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    assert os.pread(fd, 4096, MiB) == files["big.bin"][MiB:MiB + 4096]
    os.close(fd)
    ranges = [r["range"] for r in store.requests(since=before)]
    # The second request starts where the truncated body stopped (half of the 4 KiB page).
    assert ranges == [f"bytes={MiB}-{MiB + 4095}", f"bytes={MiB + 2048}-{MiB + 4095}"], ranges


def test_429_waits_for_retry_after(setup, proxy):
    mnt, files = setup
    proxy.fail("throttle", times=1)
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    assert os.pread(fd, 4096, 0) == files["big.bin"][:4096]
    os.close(fd)
    times = [s[0] for s in proxy.seen]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # Retry-After: 1


@pytest.mark.parametrize("mode", ["reset", "status_503", "wrong_range", "stall"])
def test_a_persistent_fault_gives_eio_within_the_deadline(setup, proxy, mode):
    mnt, files = setup
    proxy.fail(mode, times=None)
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        os.pread(fd, 4096, 2 * MiB)
    took = time.monotonic() - t0
    os.close(fd)
    assert e.value.errno == errno.EIO
    assert took < READ_TIMEOUT + 1.5, took
    assert len(proxy.seen) >= 2  # it did try again
    assert open(os.path.join(mnt, "ds/other.txt"), "rb").read() == files["other.txt"]


def test_a_200_error_page_is_never_a_prefix_of_the_file(tmp_path, mounts, store, proxy):
    # A small file is fetched whole; the store first answers with an HTML page and 200.
    small = random.Random(7).randbytes(5000)
    inputs = tmp_path / "small.json"
    doc = write_inputs(inputs, store, {"s": [("small.bin", small)]})
    entry = doc["s"]["files"][0]
    entry["storage_uri"] = proxy.url(entry["storage_uri"])
    import json
    inputs.write_text(json.dumps(doc))
    cache = tmp_path / "cache200"
    mnt = mounts.mount(inputs, cache=cache)
    proxy.fail("error_page_200", times=1)
    assert open(os.path.join(mnt, "s/small.bin"), "rb").read() == small
    assert len(proxy.faults_seen()) == 1
    # What went into the cache is the file, for every later mount too.
    again = mounts.mount(inputs, cache=cache)
    before = len(proxy.seen)
    assert open(os.path.join(again, "s/small.bin"), "rb").read() == small
    assert len(proxy.seen) == before


def test_a_resumed_transfer_never_joins_another_version(setup, proxy, store, tmp_path):
    mnt, files = setup
    # The first response is cut short; the one that would continue it is another version.
    proxy.plan(["truncate", "changed_etag"])
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.pread(fd, 4096, MiB)
        assert e.value.errno == errno.EIO
    finally:
        os.close(fd)
    assert [s[1] for s in proxy.seen[:2]] == ["truncate", "changed_etag"]
