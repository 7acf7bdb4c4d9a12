"""Servers that ignore Range (a 200 with the whole body): one download per file, however many
readers, streamed into the cache and served as it arrives."""

import concurrent.futures
import hashlib
import os
import random
import time

import pytest

from conftest import require, wait_for
from store import Store, write_inputs

MiB = 1 << 20


@pytest.fixture
def plain_store(tmp_path):
    """nginx with max_ranges 0: every GET is answered 200 with the whole object."""
    require(os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    s = Store(str(tmp_path / "plain-store"), rate_per_connection="64m", ranges=False).start()
    yield s
    s.stop()


@pytest.fixture
def plain(tmp_path, plain_store):
    rng = random.Random(11)
    files = {"big.bin": rng.randbytes(48 * MiB), "small.txt": b"hello\n" * 1000}
    inputs = tmp_path / "plain.json"
    write_inputs(inputs, plain_store, {"p": list(files.items())})
    return inputs, files


def cached_bytes(path):
    return int(os.getxattr(path, "user.datumfs.cached_bytes"))


def full_downloads(store, key, size, since):
    return [r for r in store.requests(since=since)
            if r["uri"].endswith(key) and r["status"] == 200 and r["body_bytes"] == size]


def test_the_server_really_ignores_range(plain, plain_store):
    import urllib.request
    inputs, files = plain
    url = plain_store.url("p/small.txt")
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=5-9"})) as r:
        assert r.status == 200 and r.read() == files["small.txt"]


def test_a_file_is_read_exactly_with_one_whole_download(mounts, plain, plain_store):
    inputs, files = plain
    mnt = mounts.mount(inputs)
    before = plain_store.mark()
    with open(os.path.join(mnt, "p/big.bin"), "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).digest() == hashlib.sha256(files["big.bin"]).digest()
    size = len(files["big.bin"])
    assert len(full_downloads(plain_store, "p/big.bin", size, before)) == 1
    # The range requests that found out were cut off at their first bytes.
    assert plain_store.bytes_sent(since=before) < 1.5 * size


def test_concurrent_readers_share_one_download(mounts, plain, plain_store):
    inputs, files = plain
    mnt = mounts.mount(inputs)
    before = plain_store.mark()
    want = hashlib.sha256(files["big.bin"]).hexdigest()
    offsets = [0, 10 * MiB, 20 * MiB, 30 * MiB]

    def read_from(offset):
        with open(os.path.join(mnt, "p/big.bin"), "rb") as f:
            f.seek(offset)
            return f.read(8 * MiB)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        chunks = list(pool.map(read_from, offsets))
    for off, chunk in zip(offsets, chunks):
        assert chunk == files["big.bin"][off:off + 8 * MiB], off
    # And then the whole file is in the cache.
    with open(os.path.join(mnt, "p/big.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == want
    # nginx logs the download when it ends, which may be after the last reader got its bytes.
    size = len(files["big.bin"])
    assert wait_for(lambda: full_downloads(plain_store, "p/big.bin", size, before))
    assert len(full_downloads(plain_store, "p/big.bin", size, before)) == 1


def test_what_was_streamed_is_cached_for_the_next_mount(mounts, tmp_path, plain, plain_store):
    inputs, files = plain
    cache = tmp_path / "shared-cache"
    mnt = mounts.mount(inputs, cache=cache)
    with open(os.path.join(mnt, "p/big.bin"), "rb") as f:
        f.seek(40 * MiB)
        assert f.read(4096) == files["big.bin"][40 * MiB:40 * MiB + 4096]
    # The download goes on to the file's end in the background; an unmount would end it there.
    big = os.path.join(mnt, "p/big.bin")
    deadline = time.monotonic() + 30
    while cached_bytes(big) < len(files["big.bin"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cached_bytes(big) == len(files["big.bin"])
    mounts.cleanup()
    before = plain_store.mark()
    mnt2 = mounts.mount(inputs, cache=cache)
    with open(os.path.join(mnt2, "p/big.bin"), "rb") as f:
        assert f.read() == files["big.bin"]
    assert plain_store.requests(since=before) == []


def test_small_files_and_random_reads(mounts, plain, plain_store):
    inputs, files = plain
    mnt = mounts.mount(inputs)
    assert open(os.path.join(mnt, "p/small.txt"), "rb").read() == files["small.txt"]
    fd = os.open(os.path.join(mnt, "p/big.bin"), os.O_RDONLY)
    try:
        rng = random.Random(3)
        for _ in range(20):
            off = rng.randrange(0, len(files["big.bin"]))
            assert os.pread(fd, 4096, off) == files["big.bin"][off:off + 4096], off
    finally:
        os.close(fd)
