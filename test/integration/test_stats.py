"""What a running mount tells about itself: extended attributes on its files and root, and
`datumfs stats` in its three formats. Counts are checked against nginx's access log."""

import errno
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import DATUMFS, stats_of
from prereq import require
from store import write_inputs

STATS = "user.datumfs.stats"
FILE_XATTRS = ["user.datumfs.datum_id", "user.datumfs.cached_bytes", "user.datumfs.uri"]


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def wait_cached(path, size, limit=5.0):
    """cached_bytes once the cache writer has caught up with what was read."""
    deadline = time.time() + limit
    while True:
        cached = int(os.getxattr(path, "user.datumfs.cached_bytes"))
        if cached == size or time.time() > deadline:
            return cached
        time.sleep(0.05)


def test_files_answer_datum_id_uri_and_cached_bytes(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    entry = dataset["doc"]["train"]["files"][0]  # dogs/000201.jpg, 1.8 MB
    path = os.path.join(mnt, "train", entry["name"])
    assert sorted(os.listxattr(path)) == sorted(FILE_XATTRS)
    assert os.getxattr(path, "user.datumfs.datum_id").decode() == entry["datum_id"]
    assert os.getxattr(path, "user.datumfs.uri").decode() == entry["uri"]
    assert os.getxattr(path, "user.datumfs.cached_bytes") == b"0"

    with open(path, "rb") as f:  # one 4 KiB page in the middle: only that much is cached
        f.seek(1 << 20)
        assert len(f.read(4096)) == 4096
    assert wait_cached(path, 4096) == 4096
    assert read_all(path) == dataset["files"]["train"][0][1]
    assert wait_cached(path, entry["size"]) == entry["size"]

    # the root has the stats and nothing else; other directories have nothing
    assert os.listxattr(mnt) == [STATS]
    assert os.listxattr(os.path.join(mnt, "train", "dogs")) == []
    for node, name in [(path, STATS), (mnt, "user.datumfs.uri"), (path, "user.other")]:
        with pytest.raises(OSError) as e:
            os.getxattr(node, name)
        assert e.value.errno == errno.ENODATA
    with pytest.raises(OSError) as e:
        os.setxattr(path, "user.datumfs.uri", b"x")
    assert e.value.errno == errno.EROFS


def test_stats_move_with_reads_and_match_the_access_log(mounts, dataset, store, tmp_path):
    mounted_at = time.monotonic()
    mnt = mounts.mount(dataset["inputs"])
    before = stats_of(mnt)
    assert before["requests"] == before["bytes_fetched"] == before["bytes_read"] == 0
    mark = store.mark()
    names = ["dogs/000201.jpg", "dogs/000202.jpg", "labels.csv"]
    sizes = {n: len(d) for n, d in dataset["files"]["train"]}
    for n in names:
        assert len(read_all(os.path.join(mnt, "train", n))) == sizes[n]
    log = store.requests(mark)
    after = stats_of(mnt)
    assert after["requests"] == len(log) > 0
    assert after["bytes_fetched"] == store.bytes_sent(mark) >= sum(sizes[n] for n in names)
    assert after["bytes_read"] == sum(sizes[n] for n in names)
    assert after["files_read"] == len(names)
    assert after["reads"] >= len(names)
    assert after["read_errors"] == after["fetch_errors"] == after["url_refreshes"] == 0
    assert after["cache_misses"] >= len(names)
    # Whole seconds since the mount, no more than the test has waited since then.
    assert isinstance(after["uptime_seconds"], int)
    assert after["uptime_seconds"] <= time.monotonic() - mounted_at + 1
    secret_free = json.dumps(after)
    assert "md5=" not in secret_free and "expires=" not in secret_free

    # a second mount on the same cache reads the same bytes without the store
    for n in names:
        wait_cached(os.path.join(mnt, "train", n), sizes[n])
    mnt2 = mounts.mount(dataset["inputs"])
    mark = store.mark()
    for n in names:
        assert len(read_all(os.path.join(mnt2, "train", n))) == sizes[n]
    again = stats_of(mnt2)
    assert store.requests(mark) == []
    assert again["requests"] == again["bytes_fetched"] == 0
    assert again["bytes_read"] == sum(sizes[n] for n in names)
    assert again["cache_hits"] >= len(names) and again["cache_misses"] == 0
    assert again["cache_bytes"] >= sum(sizes[n] for n in names)


def datumfs_stats(*args, check=True):
    p = subprocess.run([DATUMFS, "stats", *args], capture_output=True, text=True, timeout=30)
    if check:
        assert p.returncode == 0, p.stderr
    return p


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$')


def parse_exposition(text):
    """Checks every line of Prometheus text format 0.0.4; returns {name: value}."""
    assert text.endswith("\n")
    types, helps, samples = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"second HELP for {name}"
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge"), line
            assert name not in types and name not in samples, f"TYPE after samples: {line}"
            types[name] = kind
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name = m[1]
            assert name in types, f"sample without TYPE: {line}"
            assert (name, m[2]) not in samples, f"duplicate sample: {line}"
            samples[(name, m[2])] = float(m[3])
    values = {}
    for (name, _), v in samples.items():
        assert name.startswith("datumfs_")
        if types[name] == "counter":
            assert name.endswith("_total"), name
            assert v == int(v), f"a counter that is not a whole number: {name} {v}"
        values[name] = v
    return values


def test_stats_command_json_prometheus_table_and_watch(mounts, dataset, store):
    mnt = mounts.mount(dataset["inputs"])
    assert len(read_all(os.path.join(mnt, "train", "dogs/000202.jpg"))) == 4096 * 3
    mark_requests = len(store.requests())

    doc = json.loads(datumfs_stats("--json", mnt).stdout)
    assert doc["mountpoint"] == mnt and doc["requests"] == mark_requests
    assert doc["bytes_read"] == 4096 * 3

    values = parse_exposition(datumfs_stats("--prometheus", mnt).stdout)
    assert values["datumfs_requests_total"] == mark_requests
    assert values["datumfs_read_bytes_total"] == 4096 * 3
    assert values["datumfs_fetched_bytes_total"] == store.bytes_sent()
    assert "datumfs_cache_bytes" in values and "datumfs_uptime_seconds" in values

    table = datumfs_stats(mnt).stdout
    assert re.search(r"^\s+bytes_read\s+12\.3 kB \(12288\)$", table, re.M), table
    assert re.search(rf"^\s+requests\s+{mark_requests}$", table, re.M), table

    watch = subprocess.Popen([DATUMFS, "stats", "--watch", "--interval", "0.2", mnt],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    watch.terminate()
    out, _ = watch.communicate(timeout=10)
    assert out.count("datumfs 0.") >= 3, out

    p = datumfs_stats("--json", "--prometheus", mnt, check=False)
    assert p.returncode == 2
    p = datumfs_stats(os.path.dirname(mnt), check=False)
    assert p.returncode == 1
    assert "not the root of a datumfs mount" in p.stderr


def test_other_namespaces_are_not_supported_so_ls_l_stops_asking(mounts, tmp_path, store):
    """security.* and system.* (SELinux labels, ACLs) are ENOTSUP: `ls -l` then asks once per
    file system instead of twice per entry (issue 14 item 6), and user.datumfs.* still works."""
    require(shutil.which("strace"), "strace is not installed")
    files = [(f"f{i:04d}", b"x") for i in range(500)]
    inputs = tmp_path / "many.json"
    write_inputs(inputs, store, {"many": files})
    mnt = mounts.mount(inputs)
    path = os.path.join(mnt, "many", "f0000")
    for name in ("security.selinux", "system.posix_acl_access", "trusted.x"):
        with pytest.raises(OSError) as e:
            os.getxattr(path, name)
        assert e.value.errno == errno.ENOTSUP, name
    assert os.getxattr(path, "user.datumfs.cached_bytes") == b"0"  # the kernel still asks
    trace = tmp_path / "ls.strace"
    p = subprocess.run(["strace", "-f", "-o", str(trace), "-e", "trace=getxattr,lgetxattr,listxattr,llistxattr", "ls", "-l",
                        os.path.join(mnt, "many")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == len(files) + 1  # "total" and one line each
    calls = [line for line in trace.read_text().splitlines() if "xattr(" in line]
    assert len(calls) <= 4, calls[:8]
