"""The site cache (packaging/site-cache/, doc/site-cache.md): the SHIPPED nginx configuration,
run by a real nginx in front of the test store (a real nginx with signed, expiring URLs).

Only the operator's settings are changed, each one an exact string of the shipped file (the
lines marked "OPERATOR:"), which must occur there exactly once (SiteCache.substitutions): the
listen address, the cache's path and min_free, the access log, and the paths of the two
operator-edited includes, origins.map and clients.conf, which the tests write themselves. The
shipped file is included inside http {} of a small nginx.conf, as Debian's nginx.conf
includes /etc/nginx/conf.d/*.conf."""

import http.server
import os
import re
import select
import socket
import threading

import pytest

from conftest import wait_for
from http_stub import BackgroundServer
from prereq import require
from site_cache import MIB, SLICE, SiteCache, nginx_binary
from store import Store

@pytest.fixture
def nginx_present():
    require(os.path.exists(nginx_binary()), "nginx is not installed")


@pytest.fixture
def http_store(tmp_path, nginx_present):
    s = Store(str(tmp_path / "store")).start()
    yield s
    s.stop()


@pytest.fixture
def site_caches(tmp_path, nginx_present):
    """Starts site caches (`start(**SiteCache options)`) and stops them after the test."""
    started = []

    def start(**options):
        c = SiteCache(str(tmp_path / f"site-cache{len(started)}"), **options).start()
        started.append(c)
        return c
    yield start
    for c in started:
        c.stop()


def slice_requests(store, since):
    """The store's requests since `since`, as (range, bytes sent, status)."""
    return sorted((r["range"], r["body_bytes"], r["status"]) for r in store.requests(since))


def test_the_shipped_configuration_passes_nginx_t(tmp_path, nginx_present):
    # With the shipped origins.map and clients.conf as they are, and with the tests' own.
    for name, options in (("shipped", dict(origins=None, clients=None)), ("ours", {})):
        c = SiteCache(str(tmp_path / name), **options)
        p = c.check()
        assert p.returncode == 0, p.stderr
        assert "syntax is ok" in p.stderr and "test is successful" in p.stderr, p.stderr
    # and nginx -t does refuse a broken one (so the check above means something)
    c = SiteCache(str(tmp_path / "broken"), origins=("127.0.0.1 1",))  # no ";"
    assert c.check().returncode != 0


def test_ranges_are_byte_exact_and_a_differently_signed_url_is_all_hits(http_store,
                                                                        site_caches):
    store, cache = http_store, site_caches()
    data = os.urandom(64 * MIB)
    store.put("big/object.bin", data)
    url = store.url("big/object.bin")
    mark = store.mark()
    # Unaligned ranges of 5 MiB + 3 bytes: most span two slices.
    step = 5 * MIB + 3
    for first in range(0, len(data), step):
        last = min(first + step, len(data)) - 1
        status, headers, body = cache.get(url, first, last)
        assert status == 206, (first, status)
        assert headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
        assert body == data[first:last + 1], first
    # The store sent each 8 MiB slice once, with the slice's own Range.
    expected = sorted((f"bytes={i}-{i + SLICE - 1}", SLICE, 206)
                      for i in range(0, len(data), SLICE))
    assert slice_requests(store, mark) == expected

    # Another signature (another expiry) of the same object: every slice from the cache.
    other = store.url("big/object.bin", expires_in=7200)
    assert other != url and other.split("?")[0] == url.split("?")[0]
    mark = store.mark()
    for first in range(0, len(data), 4 * MIB):
        status, headers, body = cache.get(other, first, first + 4 * MIB - 1)
        assert status == 206 and headers["x-datumfs-cache"] == "HIT", (first, headers)
        assert body == data[first:first + 4 * MIB]
    # An open-ended range, and no Range at all (200, the whole object, from the slices).
    status, headers, body = cache.get(other, 60 * MIB + 7)
    assert (status, headers["content-range"]) == (206, f"bytes {60 * MIB + 7}-"
                                                       f"{len(data) - 1}/{len(data)}")
    assert body == data[60 * MIB + 7:]
    status, headers, body = cache.get(other)
    assert (status, headers["x-datumfs-cache"], int(headers["content-length"])) == \
        (200, "HIT", len(data))
    assert body == data
    assert store.requests(mark) == []

    # The access log has the hits and the path asked for, never a signature or the URL.
    log = cache.log()
    assert "cache=HIT" in log and "cache=MISS" in log and "GET /datum/key " in log
    assert "md5=" not in log and "expires=" not in log and "/data/big" not in log


def test_an_expired_or_forged_url_gets_the_stores_403_which_is_never_cached(http_store,
                                                                            site_caches):
    store, cache = http_store, site_caches()
    data = os.urandom(12 * MIB)
    store.put("obj", data)
    expired = store.url("obj", expires_in=-60)
    forged = store.url("obj", secret="not-the-store-secret")
    mark = store.mark()
    for bad in (expired, forged, expired):
        status, headers, body = cache.get(bad, 0, MIB - 1)
        assert status == 403, bad
        assert headers.get("x-datumfs-cache") == "MISS"
        assert data[:1000] not in body
    # Each one went to the store (the first 403 was not kept for the third), and none is kept.
    assert [r["status"] for r in store.requests(mark)] == [403, 403, 403]
    assert cache.cached_files() == []

    good = store.url("obj")
    status, headers, body = cache.get(good, 0, MIB - 1)
    assert (status, headers["x-datumfs-cache"], body) == (206, "MISS", data[:MIB])
    status, headers, body = cache.get(good)
    assert (status, body) == (200, data)
    assert len(cache.cached_files()) == 2  # the two slices, nothing of the 403s
    # Once cached, a slice is served whatever the URL's signature: the clients' allow-list
    # (clients.conf) is what guards the cached data (doc/site-cache.md).
    status, headers, body = cache.get(forged, 0, MIB - 1)
    assert (status, headers["x-datumfs-cache"], body) == (206, "HIT", data[:MIB])


def test_only_the_allowed_origins_are_ever_contacted(http_store, site_caches):
    store, cache = http_store, site_caches()
    store.put("obj", b"x" * 1000)
    # A server on 127.0.0.2, which is not on the allow-list: it must never see a connection.
    trap = socket.socket()
    trap.bind(("127.0.0.2", 0))
    trap.listen(16)
    trap_port = trap.getsockname()[1]
    p = store.port
    try:
        refused = {
            f"http://127.0.0.2:{trap_port}/data/obj": 403,
            f"https://127.0.0.2:{trap_port}/data/obj?md5=x": 403,
            f"http://127.0.0.1.evil.example:{trap_port}/obj": 403,
            f"http://127.0.0.1@127.0.0.2:{trap_port}/obj": 400,  # userinfo
            f"http://127.0.0.1:{p}@127.0.0.2:{trap_port}/obj": 400,
            f"http://127.0.0.1:{p}\\@127.0.0.2:{trap_port}/obj": 400,
            f"http://[::ffff:127.0.0.2]:{trap_port}/obj": 400,
            f"ftp://127.0.0.1:{p}/data/obj": 400,
            "file:///etc/passwd": 400,
            f"//127.0.0.1:{p}/data/obj": 400,
            f"http://127.0.0.1:{p}": 400,  # no path
            "": 400,
            None: 400,  # no header at all
        }
        mark = store.mark()
        for url, expected in refused.items():
            status, headers, _ = cache.get(url, 0, 99)
            assert status == expected, url
            assert "x-datumfs-cache" not in headers, url
        # A method other than GET/HEAD, with a good URL: refused too.
        assert cache.get(store.url("obj"), method="POST")[0] == 403
        assert select.select([trap], [], [], 0.3)[0] == []  # nobody connected to the trap
        assert store.requests(mark) == []
        # and the same cache does fetch from the allowed store (the refusals mean something)
        status, headers, body = cache.get(store.url("obj"), 0, 99)
        assert (status, body) == (206, b"x" * 100)
    finally:
        trap.close()
    assert cache.cached_files() != []


def test_concurrent_misses_of_one_slice_make_one_store_request(tmp_path, site_caches,
                                                               nginx_present):
    # 10 MB/s a connection: the slice takes ~0.8 s, so the 8 requests are all waiting on it.
    store = Store(str(tmp_path / "slow-store"), rate_per_connection="10m").start()
    try:
        cache = site_caches()
        data = os.urandom(2 * SLICE)
        store.put("hot", data)
        url = store.url("hot")
        mark = store.mark()
        barrier = threading.Barrier(8)
        results = [None] * 8

        def read(i):
            barrier.wait()
            results[i] = cache.get(url, SLICE + 1000, 2 * SLICE - 1000)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for status, headers, body in results:
            assert status == 206 and body == data[SLICE + 1000:2 * SLICE - 999]
        assert sorted(h["x-datumfs-cache"] for _, h, _ in results).count("MISS") == 1
        assert slice_requests(store, mark) == [(f"bytes={SLICE}-{2 * SLICE - 1}", SLICE, 206)]
    finally:
        store.stop()


def test_a_client_not_on_the_allow_list_is_refused(http_store, site_caches):
    store = http_store
    cache = site_caches(clients=("allow 127.0.0.2;", "deny all;"))
    store.put("obj", b"y" * 5000)
    url = store.url("obj")
    mark = store.mark()
    status, headers, _ = cache.get(url, 0, 99, source="127.0.0.1")
    assert status == 403 and "x-datumfs-cache" not in headers
    assert store.requests(mark) == []
    # and from the allowed address, the same request is served
    status, _, body = cache.get(url, 0, 99, source="127.0.0.2")
    assert (status, body) == (206, b"y" * 100)
    assert wait_for(lambda: " 403 " in cache.log() and " 206 " in cache.log())


class RecordingStore(BackgroundServer):
    """A store that records each request's path and headers; serves `data` with ETag "v1" and
    Range support (one range)."""

    def __init__(self, data):
        self.data, self.seen = data, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
                first, last = (int(m[1]), min(int(m[2]), len(outer.data) - 1)) if m else \
                    (0, len(outer.data) - 1)
                self.send_response(206 if m else 200)
                if m:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(outer.data)}")
                self.send_header("Content-Length", str(last - first + 1))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                self.wfile.write(outer.data[first:last + 1])

            def log_message(self, *args):
                pass

        self.serve(Handler)


def test_the_store_gets_the_signed_url_and_the_slice_range_and_no_client_headers(site_caches):
    data = os.urandom(SLICE + 5000)
    store = RecordingStore(data)
    try:
        cache = site_caches()
        url = f"http://127.0.0.1:{store.port}/bucket/obj?X-Amz-Signature=abc&X-Amz-Expires=60"
        status, headers, body = cache.get(url, 10, 19, headers={
            "Authorization": "Bearer secret", "Cookie": "a=b", "If-Match": '"v1"',
            "If-None-Match": '"v0"', "If-Range": '"v1"'})
        assert (status, body, headers["etag"]) == (206, data[10:20], '"v1"')
        (path, sent), = store.seen
        assert path == "/bucket/obj?X-Amz-Signature=abc&X-Amz-Expires=60"
        assert sent["host"] == f"127.0.0.1:{store.port}"
        assert sent["range"] == f"bytes=0-{SLICE - 1}"
        for header in ("x-datumfs-url", "authorization", "cookie", "if-match", "if-none-match",
                       "if-range"):
            assert header not in sent, header
        # If-Match is checked by nginx itself, against the cached slice's ETag.
        status, headers, _ = cache.get(url, 10, 19, headers={"If-Match": '"v2"'})
        assert (status, headers.get("x-datumfs-cache")) == (412, "HIT")
        status, _, body = cache.get(url, SLICE, None, headers={"If-Match": '"v1"'})
        assert (status, body) == (206, data[SLICE:])
        assert [s[1]["range"] for s in store.seen] == [f"bytes=0-{SLICE - 1}",
                                                       f"bytes={SLICE}-{2 * SLICE - 1}"]
    finally:
        store.stop()


def test_a_store_certificate_of_an_untrusted_ca_is_refused(tmp_path, certs, site_caches,
                                                           nginx_present):
    # proxy_ssl_verify: a store whose certificate no trusted CA signed gets no request through,
    # and nothing is cached. (A positive HTTPS test would need a host name and so a DNS
    # server: nginx 1.22 matches a certificate against DNS names only, never an IP address.)
    store = Store(str(tmp_path / "tls-store"), tls=certs.other_ca).start()
    try:
        store.put("obj", b"z" * 100)
        cache = site_caches()
        status, headers, body = cache.get(store.url("obj"), 0, 9)
        assert status == 502 and b"z" not in body
        assert cache.cached_files() == [] and store.requests() == []
        with open(os.path.join(cache.dir, "error.log")) as f:
            assert "upstream SSL certificate verify error" in f.read()
    finally:
        store.stop()
