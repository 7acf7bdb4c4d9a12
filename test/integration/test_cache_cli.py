"""datumfs cache ls|gc|verify on a real cache directory."""

import os
import random
import subprocess

from conftest import DATUMFS
from store import write_inputs

MiB = 1 << 20


def cache_cmd(*args):
    return subprocess.run([DATUMFS, "cache", *args], capture_output=True, text=True, timeout=120)


def fill_cache(tmp_path, mounts, store):
    rng = random.Random(21)
    files = {"ds": [("a.bin", rng.randbytes(3 * MiB)), ("b.bin", rng.randbytes(MiB + 5))]}
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, files)
    mnt = mounts.mount(inputs)
    for name, data in files["ds"]:
        assert open(os.path.join(mnt, "ds", name), "rb").read() == data
    mounts.cleanup()
    keys = {e["name"]: "d-" + e["datum_id"] for e in doc["ds"]["files"]}
    return inputs, files, keys


def test_ls_lists_what_was_read(tmp_path, mounts, store):
    _, files, keys = fill_cache(tmp_path, mounts, store)
    p = cache_cmd("ls", "--cache-dir", str(tmp_path / "cache"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["KEY", "CACHED", "EXTENTS", "LAST", "USE"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert set(rows) == set(keys.values())
    assert rows[keys["a.bin"]][1:3] == ["3.1", "MB"]  # 3 MiB
    assert lines[-1] == "2 objects, 4.2 MB"


def test_verify_finds_a_flipped_byte_and_drops_it(tmp_path, mounts, store):
    inputs, files, keys = fill_cache(tmp_path, mounts, store)
    cache = tmp_path / "cache"
    p = cache_cmd("verify", "--cache-dir", str(cache))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1].endswith(", 0 bad")
    data_file = [os.path.join(d, f) for d, _, fs in os.walk(cache / "data") for f in fs
                 if f == keys["b.bin"]][0]
    with open(data_file, "r+b") as f:
        f.seek(MiB)
        b = f.read(1)
        f.seek(MiB)
        f.write(bytes([b[0] ^ 0xff]))
    p = cache_cmd("verify", "--cache-dir", str(cache))
    assert p.returncode == 1
    assert p.stdout.splitlines()[0].startswith(f"bad: {keys['b.bin']} bytes ")
    assert p.stdout.splitlines()[-1].endswith(", 1 bad")
    p = cache_cmd("verify", "--cache-dir", str(cache))
    assert p.returncode == 0  # it was dropped
    before = store.mark()
    mnt = mounts.mount(inputs)
    assert open(os.path.join(mnt, "ds/b.bin"), "rb").read() == dict(files["ds"])["b.bin"]
    assert 0 < store.bytes_sent(since=before) < dict(files["ds"])["b.bin"].__len__() + 1


def test_gc_evicts_to_a_limit_and_all(tmp_path, mounts, store):
    inputs, files, keys = fill_cache(tmp_path, mounts, store)
    cache = str(tmp_path / "cache")
    p = cache_cmd("gc", "--cache-dir", cache, "--cache-max", "2M", "--min-free", "0")
    assert p.returncode == 0, p.stderr
    ls = cache_cmd("ls", "--cache-dir", cache).stdout.splitlines()[-1]
    total = float(ls.split(", ")[1].split()[0])
    assert total <= 2.1  # MB: at most 90% of 2 MiB stays
    p = cache_cmd("gc", "--cache-dir", cache, "--all")
    assert p.returncode == 0
    assert p.stdout.startswith("0 B cached, ")
    assert cache_cmd("ls", "--cache-dir", cache).stdout.splitlines()[-1] == "0 objects, 0 B"
    before = store.mark()
    mnt = mounts.mount(inputs)
    for name, data in files["ds"]:
        assert open(os.path.join(mnt, "ds", name), "rb").read() == data
    assert store.bytes_sent(since=before) == sum(len(d) for _, d in files["ds"])


def test_bad_sizes_are_usage_errors(tmp_path):
    p = cache_cmd("gc", "--cache-dir", str(tmp_path / "c"), "--cache-max", "lots")
    assert p.returncode == 2
    assert p.stderr == "datumfs: --cache-max \"lots\": not a size (like 500M, 20G or 1T)\n"


def damage_index(cache, seed):
    """Random bytes over every page of the index but the two meta pages."""
    path = cache / "index" / "data.mdb"
    size = os.path.getsize(path)
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        f.seek(8192)
        f.write(rng.randbytes(size - 8192))


def test_a_damaged_index_is_moved_aside_by_verify_and_by_mount(tmp_path, mounts, store):
    inputs, files, _ = fill_cache(tmp_path, mounts, store)
    cache = tmp_path / "cache"
    damage_index(cache, 1)
    p = cache_cmd("verify", "--cache-dir", str(cache))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "index moved to index.broken-" in p.stderr
    assert p.stdout.splitlines()[-1].endswith(", 0 bad")
    # The same for a mount: it starts with an empty index and reads everything exactly.
    mnt = mounts.mount(inputs)
    for name, data in files["ds"]:
        assert open(os.path.join(mnt, "ds", name), "rb").read() == data
    mounts.cleanup()
    damage_index(cache, 2)
    log = tmp_path / "mount.log"
    mnt = mounts.mount(inputs, args=["--log-file", str(log)])
    for name, data in files["ds"]:
        assert open(os.path.join(mnt, "ds", name), "rb").read() == data
    assert "the index is damaged" in log.read_text()
    assert len([d for d in os.listdir(cache) if d.startswith("index.broken-")]) >= 1
