"""A store that refuses, misbehaves or is gone gives EIO (never wrong bytes, never a hang),
and the daemon keeps serving everything else."""

import errno
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import DATUMFS, is_mounted, unmount
from faulty import Faulty

DATA = bytes(range(256)) * 64  # 16 KiB


def inputs_for(tmp_path, store, entries):
    """entries: [(name, url, size)] plus one good file "good.txt" from the real store."""
    store.put("f/good.txt", b"still fine\n")
    files = [{"name": n, "size": s, "storage_uri": u, "datum_id": n} for n, u, s in entries]
    files.append({"name": "good.txt", "size": 11, "storage_uri": store.url("f/good.txt")})
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"f": {"input_id": "i", "files": files}}))
    return path


def read_errno(path, offset=0, size=4096):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.pread(fd, size, offset)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return 0


def assert_good_still_served(mnt):
    assert open(os.path.join(mnt, "f/good.txt"), "rb").read() == b"still fine\n"


def test_forged_and_expired_urls_give_eio(tmp_path, mounts, store):
    store.put("f/secret.bin", DATA)
    forged = store.url("f/secret.bin").replace("md5=", "md5=AAAA")
    expired = store.url("f/secret.bin", expires_in=-60)
    wrong_key = store.url("f/secret.bin", secret="not-the-secret")
    mnt = mounts.mount(inputs_for(tmp_path, store, [
        ("forged.bin", forged, len(DATA)), ("expired.bin", expired, len(DATA)),
        ("wrong_key.bin", wrong_key, len(DATA))]))
    for name in ["forged.bin", "expired.bin", "wrong_key.bin"]:
        assert read_errno(os.path.join(mnt, "f", name)) == errno.EIO, name
    # The kernel may ask again after a failed read-ahead; every answer was a refusal.
    statuses = [r["status"] for r in store.requests() if "secret" in r["uri"]]
    assert len(statuses) >= 3 and set(statuses) == {403}, statuses
    assert_good_still_served(mnt)


@pytest.mark.parametrize("mode", ["wrong_range", "short_body", "long_body", "status_500"])
def test_bad_responses_give_eio_never_wrong_bytes(tmp_path, mounts, store, mode):
    server = Faulty(DATA, mode)
    try:
        mnt = mounts.mount(inputs_for(tmp_path, store, [("obj.bin", server.url(), len(DATA))]),
                           args=["--read-timeout", "3"])
        assert read_errno(os.path.join(mnt, "f/obj.bin"), offset=4096, size=4096) == errno.EIO
        assert server.requests >= 1
        assert_good_still_served(mnt)
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["ok", "ignore_range"])
def test_a_well_behaved_server_is_read_exactly(tmp_path, mounts, store, mode):
    # The same server, behaving (the failures above are real), and one that ignores Range
    # (a 200 with the whole object is a server without Range support, not a fault).
    server = Faulty(DATA, mode)
    try:
        mnt = mounts.mount(inputs_for(tmp_path, store, [("obj.bin", server.url(), len(DATA))]))
        assert open(os.path.join(mnt, "f/obj.bin"), "rb").read() == DATA
        fd = os.open(os.path.join(mnt, "f/obj.bin"), os.O_RDONLY)
        assert os.pread(fd, 100, 5000) == DATA[5000:5100]
        os.close(fd)
    finally:
        server.stop()


def test_a_store_that_is_down_gives_eio_at_once(tmp_path, mounts, store):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mnt = mounts.mount(inputs_for(tmp_path, store, [
        ("down.bin", f"http://127.0.0.1:{port}/x?sig=1", 100)]), args=["--read-timeout", "3"])
    t0 = time.monotonic()
    assert read_errno(os.path.join(mnt, "f/down.bin")) == errno.EIO  # after retries
    assert time.monotonic() - t0 < 3 + 1
    assert_good_still_served(mnt)


def test_a_store_that_never_answers_gives_eio_within_the_deadline(tmp_path, mounts, store):
    server = Faulty(DATA, "stall")
    try:
        mnt = mounts.mount(inputs_for(tmp_path, store, [("stall.bin", server.url(), len(DATA))]),
                           args=["--read-timeout", "2"])
        t0 = time.monotonic()
        assert read_errno(os.path.join(mnt, "f/stall.bin")) == errno.EIO
        elapsed = time.monotonic() - t0
        assert 1.5 < elapsed < 6, elapsed
        assert_good_still_served(mnt)
    finally:
        server.stop()


def test_errors_are_logged_without_signatures(tmp_path, mounts, store):
    server = Faulty(DATA, "status_500")
    mnt = str(tmp_path / "fg")
    os.mkdir(mnt)
    inputs = inputs_for(tmp_path, store, [("obj.bin", server.url(), len(DATA))])
    proc = subprocess.Popen([DATUMFS, "mount", "-f", "--read-timeout", "3", "--inputs",
                             str(inputs), "--api",
                             str(tmp_path / "none"), "--cache-dir", str(tmp_path / "cache"), mnt],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not is_mounted(mnt) and time.time() < deadline:
            time.sleep(0.05)
        assert read_errno(os.path.join(mnt, "f/obj.bin")) == errno.EIO
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        unmount(mnt)
        server.stop()
    assert (f"{mnt}/f/obj.bin: http://127.0.0.1:{server.port}/object bytes 0-16383: HTTP 500 "
            "(after " in err), err
    assert "FAULTYSECRET" not in err and "sig=" not in err
    assert not is_mounted(mnt)


def test_only_http_and_https_and_permanent_errors_fail_at_once(tmp_path, mounts, store):
    store.put("f/short.bin", b"0123456789")  # the manifest says 100 bytes
    base = f"127.0.0.1:{store.port}"
    entries = [("file.bin", "file:///etc/passwd", 100),
               ("gopher.bin", f"gopher://{base}/x", 100),
               ("dict.bin", f"dict://{base}/d:x", 100),
               ("malformed.bin", "http://[::1", 100),
               ("redirect.bin", f"{store.scheme}://{base}/redirect-to-file", 100),
               ("missing.bin", store.url("f/missing.bin"), 100),
               ("short.bin", store.url("f/short.bin"), 100)]
    log = tmp_path / "daemon.log"
    mnt = mounts.mount(inputs_for(tmp_path, store, entries),
                       args=["--read-timeout", "20", "--log-file", str(log),
                             "--walk-ahead", "0"])  # no file fetched ahead of its open
    before = store.mark()
    for name, _, _ in entries:
        t0 = time.monotonic()
        assert read_errno(os.path.join(mnt, "f", name)) == errno.EIO, name
        assert time.monotonic() - t0 < 5, name  # not retried until the 20 s deadline
    # One request each for those that reach the store: none was retried.
    uris = [r["uri"] for r in store.requests(since=before)]
    assert sorted(uris) == ["/data/f/missing.bin", "/data/f/short.bin", "/redirect-to-file"]
    text = log.read_text()
    assert text.count("only http and https URLs are fetched") >= 5
    assert "no such object in the store" in text
    assert "the manifest says 100" in text or "shorter than the manifest" in text
    assert "root:" not in text
    assert_good_still_served(mnt)
