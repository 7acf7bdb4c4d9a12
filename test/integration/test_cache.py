"""The persistent block cache: remounts read from disk, not the store; bad bytes are caught;
dataset versions share datums; limits hold; an unusable cache only costs speed."""

import concurrent.futures
import json
import os
import random
import subprocess
import threading

import pytest

from conftest import DATUMFS, daemon_pids, stats_of, wait_for
from store import write_inputs

KiB, MiB = 1 << 10, 1 << 20


def read_all(mnt, files):
    for input_name, entries in files.items():
        for name, data in entries:
            with open(os.path.join(mnt, input_name, name), "rb") as f:
                assert f.read() == data, name


@pytest.fixture
def files():
    rng = random.Random(42)
    return {"ds": [("big.bin", rng.randbytes(20 * MiB + 123)), ("small.txt", b"tiny\n"),
                   ("mid/a.bin", rng.randbytes(300 * KiB)), ("empty", b"")]}


def test_a_remount_reads_everything_from_the_cache(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs)
    read_all(mnt, files)
    mounts.cleanup()
    before = store.mark()
    mnt2 = mounts.mount(inputs)
    read_all(mnt2, files)
    assert store.requests(since=before) == []
    assert stats_of(mnt2)["reads_from_cache_file"] > 0


def awkward_reads(size, seed):
    """(offset, length) pairs: a byte, pages, across 8 MiB extents, the file's last bytes,
    and random ones."""
    rng = random.Random(seed)
    reads = [(0, 1), (8 * MiB - 100, 200), (8 * MiB - 4096, 3 * MiB), (size - 123, 123),
             (size - 5000, 10000), (4095, 8194)]
    return reads + [(rng.randrange(size), rng.choice([1, 4095, 4096, 8193, 128 * KiB + 1, MiB]))
                    for _ in range(300)]


def test_warm_reads_are_answered_from_the_cache_file_byte_exact(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    data = dict(files["ds"])["big.bin"]
    read_all(mounts.mount(inputs), files)
    mounts.cleanup()

    mnt = mounts.mount(inputs)
    before = store.mark()
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    for off, n in awkward_reads(len(data), 1):
        assert os.pread(fd, n, off) == data[off:off + n], (off, n)
    os.close(fd)
    assert store.requests(since=before) == []
    assert stats_of(mnt)["reads_from_cache_file"] > 10
    mounts.cleanup()

    # Four readers at once while the cache is emptied under them: eviction waits for the
    # bytes being spliced, the rest is fetched again; every byte right.
    mnt = mounts.mount(inputs)
    stop = threading.Event()

    def evict():
        while not stop.is_set():
            subprocess.run([DATUMFS, "cache", "gc", "--cache-dir", str(tmp_path / "cache"),
                            "--all"], capture_output=True, check=True)

    def reader(seed):
        fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
        try:
            for off, n in awkward_reads(len(data), seed):
                assert os.pread(fd, n, off) == data[off:off + n], (off, n)
        finally:
            os.close(fd)

    evictor = threading.Thread(target=evict)
    evictor.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for result in [pool.submit(reader, seed) for seed in range(2, 6)]:
                result.result()
    finally:
        stop.set()
        evictor.join()


def test_a_partly_cached_read_fetches_only_what_is_missing(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    data = dict(files["ds"])["big.bin"]
    for off in (4 * MiB + 64 * KiB, 4 * MiB):  # two random pages, one mount each
        mnt = mounts.mount(inputs)
        fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
        assert os.pread(fd, 4096, off) == data[off:off + 4096]
        os.close(fd)
        mounts.cleanup()  # a new mount: the kernel's page cache and our memory are gone
    mnt = mounts.mount(inputs)
    before = store.mark()
    fd = os.open(os.path.join(mnt, "ds/big.bin"), os.O_RDONLY)
    assert os.pread(fd, 128 * KiB, 4 * MiB) == data[4 * MiB:4 * MiB + 128 * KiB]
    os.close(fd)
    sent = store.bytes_sent(since=before)
    # From the first missing byte to the last: the cached first page is not fetched again.
    assert sent == 128 * KiB - 4096, store.requests(since=before)


def test_a_flipped_byte_is_caught_and_fetched_again(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    cache = tmp_path / "cache"
    mnt = mounts.mount(inputs)
    read_all(mnt, files)
    mounts.cleanup()
    data_files = [os.path.join(d, f) for d, _, fs in os.walk(cache / "data") for f in fs]
    big = max(data_files, key=os.path.getsize)
    with open(big, "r+b") as f:
        f.seek(5 * MiB + 17)
        byte = f.read(1)
        f.seek(5 * MiB + 17)
        f.write(bytes([byte[0] ^ 0x01]))
    before = store.mark()
    mnt = mounts.mount(inputs)
    read_all(mnt, files)
    requests = store.requests(since=before)
    assert len(requests) >= 1, "the bad extent was not fetched again"
    assert store.bytes_sent(since=before) <= 8 * MiB  # one extent, not the file
    stats = stats_of(mnt)
    assert stats["corrupt_extents"] >= 1  # once more if a reader held the file at the drop
    assert stats["reads_from_cache_file"] > 0  # the sound extents were spliced


def test_a_new_dataset_version_fetches_only_its_new_datums(tmp_path, mounts, store):
    rng = random.Random(7)
    v1 = {"ds": [(f"f{i}.bin", rng.randbytes(100 * KiB)) for i in range(10)]}
    changed = rng.randbytes(100 * KiB)
    v2 = {"ds": [(n, changed if n == "f3.bin" else d) for n, d in v1["ds"]]
          + [("f10.bin", rng.randbytes(50 * KiB))]}
    write_inputs(tmp_path / "v1.json", store, v1)
    mnt = mounts.mount(tmp_path / "v1.json")
    read_all(mnt, v1)
    mounts.cleanup()
    store_v2 = tmp_path / "v2.json"
    write_inputs(store_v2, store, v2)  # same names, same datums except f3 and the new f10
    before = store.mark()
    mnt = mounts.mount(store_v2)
    read_all(mnt, v2)
    fetched = {r["uri"] for r in store.requests(since=before)}
    assert fetched == {"/data/ds/f3.bin", "/data/ds/f10.bin"}
    assert store.bytes_sent(since=before) == 150 * KiB


def du_bytes(path):
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def test_cache_max_holds(tmp_path, mounts, store):
    rng = random.Random(8)
    files = {"ds": [(f"f{i}.bin", rng.randbytes(4 * MiB)) for i in range(12)]}  # 48 MiB
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs, args=["--cache-max", "16M"])
    read_all(mnt, files)
    used = du_bytes(tmp_path / "cache" / "data")
    assert used <= 16 * MiB + 8 * MiB, used  # the limit, plus at most one extent in flight
    assert used >= 4 * MiB  # it did cache
    read_all(mnt, files)  # still exact after eviction


def test_an_unusable_cache_dir_still_mounts_uncached(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    mnt = str(tmp_path / "m")
    os.mkdir(mnt)
    mounts.points.append(mnt)
    p = mounts.run("--inputs", str(inputs), "--api", str(tmp_path / "none"), "--cache-dir",
                   str(blocker), mnt)
    assert p.returncode == 0, p.stderr
    warnings = [line for line in p.stderr.splitlines() if "cache is unusable" in line]
    assert len(warnings) == 1, p.stderr
    assert warnings[0].endswith(f"cache is unusable ({blocker}: not a directory); reading "
                                "without a cache")
    read_all(mnt, files)
    before = store.mark()
    mounts.cleanup()
    mounts.points.append(mnt)
    p = mounts.run("--inputs", str(inputs), "--api", str(tmp_path / "none"), "--cache-dir",
                   str(blocker), mnt)
    assert p.returncode == 0
    read_all(mnt, files)
    assert len(store.requests(since=before)) > 0  # nothing was cached


def test_the_cache_is_private(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs)
    read_all(mnt, files)
    cache = tmp_path / "cache"
    assert os.stat(cache).st_mode & 0o777 == 0o700
    for d, dirs, fs in os.walk(cache):
        for x in dirs:
            assert os.stat(os.path.join(d, x)).st_mode & 0o777 == 0o700, x
        for x in fs:
            assert os.stat(os.path.join(d, x)).st_mode & 0o777 == 0o600, x


def test_a_read_only_cache_dir_still_mounts_uncached(tmp_path, mounts, store, files):
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, files)
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(ro)], check=True)
    try:
        (ro / "cache").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        mnt = str(tmp_path / "m")
        os.mkdir(mnt)
        mounts.points.append(mnt)
        p = mounts.run("--inputs", str(inputs), "--api", str(tmp_path / "none"), "--cache-dir",
                       str(ro / "cache"), mnt)
        assert p.returncode == 0, p.stderr
        warnings = [line for line in p.stderr.splitlines() if "cache is unusable" in line]
        assert len(warnings) == 1 and "Read-only file system" in warnings[0], p.stderr
        read_all(mnt, files)
        mounts.cleanup()
    finally:
        subprocess.run(["umount", "-l", str(ro)])


def test_files_whose_urls_differ_only_in_the_query_are_different_objects(tmp_path, mounts,
                                                                          store):
    # No datum ids: the cache key comes from the URL without its signature, and the rest of
    # the query names the object.
    rng = random.Random(33)
    objects = {"a.bin": rng.randbytes(70000), "b.bin": rng.randbytes(70000),
               "x.bin.v1": rng.randbytes(70000), "x.bin.v2": rng.randbytes(70000)}
    for name, data in objects.items():
        store.put_object(name, data)
    base = f"{store.scheme}://127.0.0.1:{store.port}"
    urls = {"a.bin": f"{base}/download?k=a.bin&X-Amz-Signature=s1",
            "b.bin": f"{base}/download?k=b.bin&X-Amz-Signature=s1",
            "x.bin.v1": f"{base}/versioned/x.bin?versionId=1&sig=s2",
            "x.bin.v2": f"{base}/versioned/x.bin?versionId=2&sig=s2"}
    files = [{"name": n, "size": len(objects[n]), "storage_uri": u} for n, u in urls.items()]
    inputs = tmp_path / "query.json"
    inputs.write_text(json.dumps({"q": {"input_id": "i", "files": files}}))
    cache = tmp_path / "qcache"
    for _ in range(2):  # the second mount reads from the cache the first filled
        mnt = mounts.mount(inputs, cache=cache)
        for name, data in objects.items():
            assert open(os.path.join(mnt, "q", name), "rb").read() == data, name


def test_an_existing_cache_dir_keeps_its_mode_and_a_new_one_is_private(tmp_path, mounts,
                                                                      dataset):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    new = tmp_path / "parent" / "new-cache"
    for cache in (shared, new):
        mounts.mount(dataset["inputs"], cache=cache)
        p = subprocess.run([DATUMFS, "cache", "ls", "--cache-dir", str(cache)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    mounts.cleanup()
    assert os.stat(shared).st_mode & 0o7777 == 0o755
    assert os.stat(new).st_mode & 0o7777 == 0o700


def test_a_cache_dir_others_can_write_into_is_refused(tmp_path, mounts, dataset):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    p = subprocess.run([DATUMFS, "cache", "ls", "--cache-dir", str(open_dir)],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert f"{open_dir}: other users can write into it" in p.stderr
    # A mount says so once and reads without a cache; the directory is left as it was.
    log = tmp_path / "open.log"
    mnt = mounts.mount(dataset["inputs"], cache=open_dir, args=["--log-file", str(log)])
    assert open(os.path.join(mnt, "train/labels.csv"), "rb").read() == b"id,label\n1,dog\n2,cat\n"
    assert "other users can write into it" in log.read_text()
    assert os.listdir(open_dir) == []
    assert os.stat(open_dir).st_mode & 0o7777 == 0o777
    # Sticky and ours (like /tmp for root) is fine.
    os.chmod(open_dir, 0o1777)
    p = subprocess.run([DATUMFS, "cache", "ls", "--cache-dir", str(open_dir)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert os.stat(open_dir).st_mode & 0o7777 == 0o1777


def test_a_cache_dir_deleted_while_mounted_stops_caching_and_says_so(tmp_path, mounts,
                                                                    dataset):
    import shutil
    import time
    cache = tmp_path / "doomed"
    log = tmp_path / "doomed.log"
    mnt = mounts.mount(dataset["inputs"], cache=cache, args=["--log-file", str(log)])
    files = dict(dataset["files"]["train"])
    labels = os.path.join(mnt, "train/labels.csv")
    assert open(labels, "rb").read() == files["labels.csv"]
    # Its bytes reach the cache after the read (write-behind): deleting the directory while a
    # data file is being created there fails with ENOTEMPTY, for rm -rf as for rmtree.
    assert wait_for(lambda: int(os.getxattr(labels, "user.datumfs.cached_bytes")) ==
                    len(files["labels.csv"]))
    shutil.rmtree(cache)
    deadline = time.monotonic() + 5
    while "caching stopped" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    for name in ("dogs/000201.jpg", "dogs/000202.jpg", "cats/deep/er/x.bin"):
        assert open(os.path.join(mnt, "train", name), "rb").read() == files[name], name
    time.sleep(1.5)  # the daemon checks once a second
    text = log.read_text()
    assert text.count("the directory was removed or replaced while mounted; caching stopped") == 1
    assert not cache.exists()  # nothing written under the old path either
    # The daemon keeps no deleted file of the cache open for writing.
    pid = daemon_pids(mnt)[0]
    fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    held = [f for f in fds if "(deleted)" in f and "/data/" in f]
    assert held == [], held
