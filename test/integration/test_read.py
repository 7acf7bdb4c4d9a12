"""Reads are byte-exact and lazy: only the pages asked for cross the network."""

import concurrent.futures
import hashlib
import os
import random
import subprocess

from store import write_inputs


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def test_whole_files_are_byte_exact(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    for input_name, files in dataset["files"].items():
        for name, data in files:
            assert sha256(os.path.join(mnt, input_name, name)) == hashlib.sha256(data).hexdigest(), name


def test_empty_file_reads_nothing_and_asks_nothing(mounts, dataset, store):
    mnt = mounts.mount(dataset["inputs"])
    before = store.mark()
    with open(os.path.join(mnt, "train/empty.txt"), "rb") as f:
        assert f.read() == b""
    assert store.requests(since=before) == []


def test_random_preads_are_byte_exact(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    data = dict(dataset["files"]["train"])["dogs/000201.jpg"]
    rng = random.Random(99)
    fd = os.open(os.path.join(mnt, "train/dogs/000201.jpg"), os.O_RDONLY)
    try:
        for _ in range(200):
            off = rng.randrange(0, len(data) + 100)
            n = rng.choice([1, 7, 4096, 5000, 65536, 300000])
            assert os.pread(fd, n, off) == data[off:off + n], (off, n)
    finally:
        os.close(fd)


def test_a_4k_read_in_a_64mib_file_fetches_about_4k(mounts, tmp_path, store):
    data = random.Random(5).randbytes(64 << 20)
    inputs = tmp_path / "big.json"
    write_inputs(inputs, store, {"big": [("blob.bin", data)]})
    mnt = mounts.mount(inputs)
    before = store.mark()
    fd = os.open(os.path.join(mnt, "big/blob.bin"), os.O_RDONLY)
    try:
        off = 32 << 20
        assert os.pread(fd, 4096, off) == data[off:off + 4096]
    finally:
        os.close(fd)
    requests = store.requests(since=before)
    assert len(requests) == 1, requests
    assert store.bytes_sent(since=before) < 8192


def test_several_processes_read_at_once(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    files = [(os.path.join(mnt, "train", n), hashlib.sha256(d).hexdigest())
             for n, d in dataset["files"]["train"]]
    jobs = files * 3
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        procs = list(pool.map(
            lambda f: subprocess.run(["sha256sum", f[0]], capture_output=True, text=True), jobs))
    for (path, want), p in zip(jobs, procs):
        assert p.returncode == 0, p.stderr
        assert p.stdout.split()[0] == want, path


def test_reads_past_the_end_return_nothing(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    fd = os.open(os.path.join(mnt, "train/labels.csv"), os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        assert os.pread(fd, 100, size) == b""
        assert os.pread(fd, 100, size + 4096) == b""
        assert len(os.pread(fd, 100, size - 3)) == 3
    finally:
        os.close(fd)


def test_sequential_reads_reuse_connections(mounts, tmp_path, store):
    data = random.Random(6).randbytes(16 << 20)
    inputs = tmp_path / "seq.json"
    write_inputs(inputs, store, {"seq": [("stream.bin", data)]})
    mnt = mounts.mount(inputs)
    before = store.mark()
    with open(os.path.join(mnt, "seq/stream.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    requests = store.requests(since=before)
    connections = {r["connection"] for r in requests}
    assert len(requests) >= 5, requests  # the read-ahead window grows: several requests
    assert len(connections) <= len(requests) // 2, requests
    assert store.bytes_sent(since=before) < len(data) * 1.1
