"""datumfs reading through a site cache (--site-cache): real nginx for the store and for the
site cache (the shipped packaging/site-cache/ configuration), real mounts."""

import json
import os
import random
import re
import subprocess
import time

import pytest

from api_standin import ApiStandIn
from conftest import DATUMFS, stats_of
from fault_proxy import MODES, FaultProxy
from site_cache import SLICE, SiteCache, log_entries, nginx_binary
from store import Store, free_port, write_inputs
from tls import Certs

MiB = 1 << 20


@pytest.fixture
def store(tmp_path):
    """Over HTTP: nginx 1.22 cannot verify a certificate for an IP address (doc/site-cache.md),
    and the test store is 127.0.0.1."""
    s = Store(str(tmp_path / "store")).start()
    yield s
    s.stop()


@pytest.fixture
def nodes(tmp_path):
    """start(name): a site cache node, stopped at the end."""
    if not os.path.exists(nginx_binary()):
        pytest.skip("nginx is not installed")
    started = []

    def start(name="node", **options):
        started.append(SiteCache(str(tmp_path / name), **options).start())
        return started[-1]
    yield start
    for n in started:
        n.stop()


@pytest.fixture
def node(nodes):
    return nodes()


def via(*caches):
    return ["--site-cache", ",".join(f"http://127.0.0.1:{c.port}" for c in caches)]


def read(mnt, name):
    with open(os.path.join(mnt, name), "rb") as f:
        return f.read()


def node_stats(mnt, cache):
    return stats_of(mnt)["site_caches"][f"http://127.0.0.1:{cache.port}"]


def test_two_hosts_read_a_file_the_store_sends_once(tmp_path, mounts, store, node):
    data = random.Random(1).randbytes(64 * MiB + 5)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("big.bin", data)]})
    before = store.mark()
    for host in ("a", "b"):  # separate block caches: two hosts
        log = tmp_path / f"{host}.log"
        mnt = mounts.mount(inputs, args=via(node) + ["--log-file", str(log)],
                           cache=tmp_path / f"cache-{host}")
        assert read(mnt, "ds/big.bin") == data
        assert re.search(r"ds/big.bin: fetched 67.1 MB in [0-9.]+ s via site cache\n",
                         log.read_text()), log.read_text()
        assert "?" not in log.read_text()  # no signed URL
    assert store.bytes_sent(since=before) == len(data), store.requests(since=before)
    assert "MISS" in node.log() and "HIT" in node.log()
    # Each request datumfs sent lies within one 8 MiB slice: answered from one cached slice.
    for _, _, _, asked, _ in log_entries(node.log()):
        first, last = map(int, asked.removeprefix("bytes=").split("-"))
        assert first // SLICE == last // SLICE, asked


def test_a_node_that_is_down_costs_nothing_but_the_detour(tmp_path, mounts, store, node):
    data = random.Random(2).randbytes(20 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    port = node.port
    node.stop()
    mnt = mounts.mount(inputs, args=["--site-cache", f"http://127.0.0.1:{port}"])
    with open(os.path.join(mnt, "ds/f.bin"), "rb") as f:
        assert f.read() == data
    assert stats_of(mnt)["read_errors"] == 0


def test_a_node_stopped_mid_read_then_restarted(tmp_path, mounts, store, node):
    data = random.Random(3).randbytes(48 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data), ("g.bin", data[:9 * MiB])]})
    mnt = mounts.mount(inputs, args=["--site-cache", f"http://127.0.0.1:{node.port}",
                                     "--read-timeout", "20"])
    with open(os.path.join(mnt, "ds/f.bin"), "rb") as f:
        first = f.read(16 * MiB)
        port = node.port
        node.stop()
        rest = f.read()
    assert first + rest == data
    node.start(port)  # back on its port: after its rest, requests go to it again
    time.sleep(2.5)
    mark = len(node.log())
    with open(os.path.join(mnt, "ds/g.bin"), "rb") as f:
        assert f.read() == data[:9 * MiB]
    assert "MISS" in node.log()[mark:]


def test_differently_signed_urls_of_a_datum_hit_the_cache(tmp_path, mounts, store, node):
    data = random.Random(4).randbytes(20 * MiB + 11)
    for host, expires_in in (("a", 3600), ("b", 7200)):  # another signature, another expiry
        inputs = tmp_path / f"inputs-{host}.json"
        write_inputs(inputs, store, {"ds": [("f.bin", data)]}, expires_in=expires_in)
        mark = store.mark()
        seen = len(log_entries(node.log()))
        mnt = mounts.mount(inputs, args=via(node), cache=tmp_path / f"cache-{host}")
        assert read(mnt, "ds/f.bin") == data
        entries = log_entries(node.log())[seen:]
        assert entries and all(status == 206 for _, status, _, _, _ in entries)
        if host == "b":
            assert store.bytes_sent(since=mark) == 0, store.requests(since=mark)
            assert {cached for *_, cached in entries} == {"HIT"}
        stats = stats_of(mnt)
        assert node_stats(mnt, node)["bytes"] == len(data) == stats["bytes_fetched"]
        assert stats["site_cache_share"] == 1.0


def test_a_forged_url_is_refreshed_through_the_cache_and_its_403_not_cached(
        tmp_path, mounts, store, node):
    """(A URL that says it has expired is renewed before it is sent; one the store refuses
    all the same, as a forged or revoked one, is a 403 that must pass through the cache.)"""
    data = random.Random(5).randbytes(12 * MiB)
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    for f in doc["ds"]["files"]:
        f["storage_uri"] = f["storage_uri"].replace("md5=", "md5=XX")
    inputs.write_text(json.dumps(doc))
    api = ApiStandIn(store, doc)
    try:
        mnt = mounts.mount(inputs, args=via(node), api=api.api_json(tmp_path / "api.json"),
                           cache=tmp_path / "cache-a")
        assert read(mnt, "ds/f.bin") == data
        assert api.refreshes == {doc["ds"]["input_id"]: 1}
    finally:
        api.stop()
    statuses = [status for _, status, _, _, _ in log_entries(node.log())]
    assert statuses[0] == 403 and 206 in statuses, node.log()
    for path in node.cached_files():  # only the slices of the good URL's answers
        with open(path, "rb") as f:
            head = f.read(4096)
        assert b"HTTP/1.1 206" in head and b" 403 " not in head, head
    # Another host with the refreshed kind of URL: served from the cache alone.
    write_inputs(tmp_path / "inputs-b.json", store, {"ds": [("f.bin", data)]})
    mark, seen = store.mark(), len(log_entries(node.log()))
    mnt = mounts.mount(tmp_path / "inputs-b.json", args=via(node), cache=tmp_path / "cache-b")
    assert read(mnt, "ds/f.bin") == data
    assert store.bytes_sent(since=mark) == 0
    assert {cached for *_, cached in log_entries(node.log())[seen:]} == {"HIT"}


def test_two_nodes_share_the_keys_and_one_down_sends_them_to_the_other(
        tmp_path, mounts, store, nodes):
    a, b = nodes("a"), nodes("b")
    rng = random.Random(6)
    files = [(f"f{i:02d}.bin", rng.randbytes(256 * 1024 + i)) for i in range(24)]
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": files})
    mnt = mounts.mount(inputs, args=via(a, b), cache=tmp_path / "cache-1")
    for name, data in files:
        assert read(mnt, f"ds/{name}") == data
    keys_a = {path for path, *_ in log_entries(a.log())}
    keys_b = {path for path, *_ in log_entries(b.log())}
    assert len(keys_a) + len(keys_b) == len(files) and not keys_a & keys_b
    assert keys_a and keys_b  # 24 keys on one node of two: 1 in 8 million
    assert stats_of(mnt)["site_cache_share"] == 1.0

    b.stop()
    seen = len(log_entries(a.log()))
    mnt = mounts.mount(inputs, args=via(a, b), cache=tmp_path / "cache-2")
    for name, data in files:
        assert read(mnt, f"ds/{name}") == data
    stats = stats_of(mnt)
    assert stats["read_errors"] == 0
    down = node_stats(mnt, b)
    assert down["bytes"] == 0 and 1 <= down["errors"] == down["requests"]
    # Every key of b's went to a, but those whose request found b down (then the store).
    now_a = {path for path, *_ in log_entries(a.log())[seen:]}
    assert keys_a <= now_a and len(keys_b - now_a) <= down["errors"], (keys_b, now_a)


def test_nodes_from_the_environment_and_bad_nodes_refused(tmp_path, mounts, store, node):
    data = random.Random(7).randbytes(3 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    down = f"http://127.0.0.1:{free_port()}"
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    env = dict(os.environ, DATUMFS_SITE_CACHE=f"http://127.0.0.1:{node.port}/,{down}")
    p = subprocess.run([DATUMFS, "mount", "--inputs", str(inputs), "--cache-dir",
                        str(tmp_path / "cache"), mnt], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    mounts.points.append(mnt)
    assert read(mnt, "ds/f.bin") == data
    assert sorted(stats_of(mnt)["site_caches"]) == sorted([f"http://127.0.0.1:{node.port}", down])
    for bad in ("127.0.0.1:8380", "ftp://cache", "http://cache/path", "http://user@cache", ""):
        p = mounts.run("--inputs", str(inputs), "--site-cache", bad, str(tmp_path / "mnt2"))
        assert p.returncode == 2 and "--site-cache" in p.stderr, (bad, p.stderr)


NODE_FAULTS = ("reset", "status_500", "status_503", "stall", "truncate", "long_body",
               "wrong_range", "ignore_range", "error_page_200", "changed_etag", "redirect")


@pytest.mark.parametrize("mode", MODES)
def test_a_misbehaving_node_costs_no_error_and_no_wrong_byte(tmp_path, mounts, store, node,
                                                             mode):
    """Every request through the node misbehaves in `mode` (a fault proxy in front of it): each
    read is answered by the store directly, byte-exact, and the node is counted as failing."""
    proxy = FaultProxy(node.port, stall_seconds=4)
    try:
        proxy.fail(mode, times=None)
        rng = random.Random(9)
        files = [(f"f{i}.bin", rng.randbytes(6 * MiB + i)) for i in range(3)]
        inputs = tmp_path / "inputs.json"
        write_inputs(inputs, store, {"ds": files})
        mnt = mounts.mount(inputs, args=["--site-cache", f"http://127.0.0.1:{proxy.port}",
                                         "--stall-timeout", "1", "--read-timeout", "20"])
        for name, data in files:
            assert read(mnt, f"ds/{name}") == data
        stats = stats_of(mnt)
        assert stats["read_errors"] == 0 and stats["fetch_errors"] == 0
        counted = stats["site_caches"][f"http://127.0.0.1:{proxy.port}"]
        if mode in NODE_FAULTS:
            assert counted["errors"] >= 1 and proxy.faults_seen(), counted
    finally:
        proxy.stop()


def test_fstab_options_name_one_node_each(tmp_path, mounts, store, nodes):
    """`site_cache=URL` once a node in -o (commas separate mount options), as mount.fuse3 runs
    datumfs for an fstab line."""
    a, b = nodes("a"), nodes("b")
    data = random.Random(10).randbytes(2 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    mnt = tmp_path / "helper"
    mnt.mkdir()
    mounts.points.append(str(mnt))
    p = subprocess.run([DATUMFS, str(inputs), str(mnt), "-o",
                        f"ro,cache_dir={tmp_path / 'cache'},site_cache=http://127.0.0.1:{a.port},"
                        f"site_cache=http://127.0.0.1:{b.port}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert read(mnt, "ds/f.bin") == data
    stats = stats_of(mnt)
    assert sorted(stats["site_caches"]) == sorted(f"http://127.0.0.1:{n.port}" for n in (a, b))
    assert stats["site_cache_share"] == 1.0


def test_an_https_node_is_verified_and_an_untrusted_one_bypassed(tmp_path, mounts, store, nodes):
    certs = Certs(str(tmp_path / "certs"))
    trusted, untrusted = nodes("trusted", tls=certs.good), nodes("untrusted", tls=certs.other_ca)
    data = random.Random(11).randbytes(10 * MiB)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("f.bin", data)]})
    for n, node in enumerate((trusted, untrusted)):
        log = tmp_path / f"{n}.log"
        url = f"https://127.0.0.1:{node.port}"
        mnt = mounts.mount(inputs, args=["--site-cache", url, "--ca-file", certs.ca,
                                         "--log-file", str(log)], cache=tmp_path / f"cache{n}")
        assert read(mnt, "ds/f.bin") == data
        stats = stats_of(mnt)
        assert stats["read_errors"] == 0
        counted = stats["site_caches"][url]
        if node is trusted:
            assert counted["bytes"] == len(data) and counted["errors"] == 0
        else:  # the TLS failure is the node's: the store directly, and a warning naming it
            assert counted["bytes"] == 0 and counted["errors"] >= 1
            assert f"site cache {url}: " in log.read_text(), log.read_text()
