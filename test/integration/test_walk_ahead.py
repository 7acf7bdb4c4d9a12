"""Read-ahead across files (issue 14): a job that opens the files of a directory in listing
order finds the next ones fetched before it opens them; a shuffled reader gets none of it."""

import os
import random
import time

from conftest import daemon_pids
from store import write_inputs
from test_readahead import max_overlap, slow_store  # noqa: F401 (a fixture)

KiB = 1 << 10
FILES = 200


def small_files(seed, size=16 * KiB):
    rng = random.Random(seed)
    return [(f"f{i:04d}.bin", rng.randbytes(size + i)) for i in range(FILES)]


def test_files_read_in_order_are_fetched_before_they_are_opened(mounts, tmp_path, slow_store):
    store = slow_store  # 16 MB/s a connection: a file's transfer takes 16 ms, long enough to see
    files = small_files(1, 256 * KiB)
    inputs = tmp_path / "walk.json"
    write_inputs(inputs, store, {"walk": files})
    mnt = mounts.mount(inputs)
    since = store.mark()
    opened = {}
    for name, data in files:  # one reader, in listing order, as tar or cp -r read
        opened[name] = time.time()
        with open(os.path.join(mnt, "walk", name), "rb") as f:
            assert f.read() == data, name
    requests = [r for r in store.requests(since) if r["uri"].startswith("/data/walk/")]
    by_name = {}
    for r in requests:
        by_name.setdefault(os.path.basename(r["uri"]), []).append(r)
    # Every file was fetched once, whole: nothing twice, nothing it did not read.
    assert sorted(by_name) == sorted(name for name, _ in files)
    assert all(len(rs) == 1 for rs in by_name.values()), by_name
    # Past the first few, files were asked for before the reader opened them, several at once.
    early = [name for name, rs in by_name.items() if rs[0]["start"] < opened[name] - 0.002]
    assert len(early) >= FILES - 10, len(early)
    assert max_overlap(requests) >= 2
    assert daemon_pids(mnt)


def test_a_shuffled_reader_makes_no_request_for_a_file_it_never_reads(mounts, tmp_path, store):
    files = small_files(2)
    inputs = tmp_path / "shuffled.json"
    write_inputs(inputs, store, {"shuffled": files})
    mnt = mounts.mount(inputs)
    since = store.mark()
    chosen = random.Random(5).sample(files, FILES // 2)  # half of them, in a random order
    for name, data in chosen:
        with open(os.path.join(mnt, "shuffled", name), "rb") as f:
            assert f.read() == data, name
    asked = {os.path.basename(r["uri"]) for r in store.requests(since)
             if r["uri"].startswith("/data/shuffled/")}
    assert asked == {name for name, _ in chosen}


def test_walk_ahead_0_fetches_no_file_before_it_is_opened(mounts, tmp_path, store):
    files = small_files(3)
    inputs = tmp_path / "off.json"
    write_inputs(inputs, store, {"off": files})
    mnt = mounts.mount(inputs, args=["--walk-ahead", "0"])
    since = store.mark()
    opened = {}
    for name, data in files:  # in listing order: a walk, but read-ahead across files is off
        opened[name] = time.time()
        with open(os.path.join(mnt, "off", name), "rb") as f:
            assert f.read() == data, name
    requests = [r for r in store.requests(since) if r["uri"].startswith("/data/off/")]
    assert sorted(os.path.basename(r["uri"]) for r in requests) == sorted(n for n, _ in files)
    early = [r["uri"] for r in requests
             if r["start"] < opened[os.path.basename(r["uri"])] - 0.002]
    assert early == []
