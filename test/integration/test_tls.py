"""HTTPS: reads over TLS are exact, and each TLS failure users meet (a CA this machine does not
trust, a certificate for another host, an expired one, no CA bundle at all) fails reads with
EIO at once, without retries, with one log line per host saying what to do."""

import errno
import json
import os
import random
import subprocess

import pytest

from conftest import DATUMFS, daemon_pids, stats_of
from store import Store, write_inputs

MiB = 1 << 20


@pytest.fixture
def https_store(tmp_path, certs):
    s = Store(str(tmp_path / "https-store"), tls=certs.good).start()
    yield s
    s.stop()


def make_files(seed):
    rng = random.Random(seed)
    return {"big.bin": rng.randbytes(20 * MiB + 123), "odd.bin": rng.randbytes(777),
            "small.txt": b"over TLS\n"}


def test_https_reads_are_exact(mounts, tmp_path, https_store, certs):
    files = make_files(1)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, https_store, {"s": list(files.items())})
    mnt = mounts.mount(inputs, args=["--ca-file", certs.ca])
    before = https_store.mark()
    for name, data in files.items():  # whole files; big.bin as a sequential stream
        with open(os.path.join(mnt, "s", name), "rb") as f:
            assert f.read() == data, name
    rng = random.Random(2)
    big = files["big.bin"]
    with open(os.path.join(mnt, "s/big.bin"), "rb") as f:
        for _ in range(40):
            off = rng.randrange(len(big))
            n = rng.randrange(1, 3 * MiB)
            assert os.pread(f.fileno(), n, off) == big[off:off + n], (off, n)
    requests = https_store.requests(since=before)
    assert requests and all(r["tls"] and r["tls"].startswith("TLS") for r in requests)
    assert stats_of(mnt)["tls_errors"] == 0


def test_connections_and_tls_sessions_are_reused(mounts, tmp_path, certs):
    """One connection for a file's reads; and when the store closes every connection, each new
    one resumes the TLS session of an earlier one instead of a full handshake."""
    rng = random.Random(6)
    files = {f"f{i}.bin": rng.randbytes(3000 + i) for i in range(12)}
    for keepalive in (True, False):
        store = Store(str(tmp_path / f"store-{keepalive}"), tls=certs.good,
                      keepalive=keepalive).start()
        try:
            inputs = tmp_path / f"inputs-{keepalive}.json"
            write_inputs(inputs, store, {"s": list(files.items())})
            # No file fetched ahead of its open: that would run in parallel, on more connections.
            mnt = mounts.mount(inputs, args=["--ca-file", certs.ca, "--walk-ahead", "0"],
                               cache=tmp_path / f"cache-{keepalive}")
            before = store.mark()
            for name, data in files.items():  # one after another: no parallel connections
                with open(os.path.join(mnt, "s", name), "rb") as f:
                    assert f.read() == data
            requests = store.requests(since=before)
            assert len(requests) == len(files)
            connections = {r["connection"] for r in requests}
            if keepalive:
                assert len(connections) == 1, requests
            else:
                assert len(connections) == len(files)
                reused = [r for r in requests if r["session_reused"]]
                # All but the first; the second may come before the first's session ticket.
                assert len(reused) >= len(files) - 2, requests
        finally:
            store.stop()


def test_http1_even_where_the_store_offers_http2(mounts, tmp_path, certs):
    """GCS and Azure Blob offer HTTP/2. datumfs keeps to HTTP/1.1 over several connections
    (doc/benchmarks.md, "HTTP/2": multiplexing a stream's parallel ranges onto one connection
    cost time and CPU, and small files gained nothing)."""
    store = Store(str(tmp_path / "h2-store"), tls=certs.good, http2=True).start()
    try:
        files = make_files(7)
        inputs = tmp_path / "inputs.json"
        write_inputs(inputs, store, {"s": list(files.items())})
        mnt = mounts.mount(inputs, args=["--ca-file", certs.ca])
        before = store.mark()
        for name, data in files.items():
            with open(os.path.join(mnt, "s", name), "rb") as f:
                assert f.read() == data, name
        requests = store.requests(since=before)
        assert len(requests) > 3  # big.bin's parallel ranges too
        assert {r["protocol"] for r in requests} == {"HTTP/1.1"}, requests
        assert len({r["connection"] for r in requests}) > 1  # the ranges ran side by side
    finally:
        store.stop()


def test_a_ca_file_that_is_no_bundle_is_a_usage_error(mounts, tmp_path, https_store, certs):
    files = make_files(3)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, https_store, {"s": list(files.items())})
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounts.points.append(str(mnt))  # unmounted at the end, should one of these mount
    for bad, reason in ((tmp_path / "missing.pem", "No such file"), (inputs, "no PEM certificate")):
        p = mounts.run("--inputs", str(inputs), "--ca-file", str(bad), str(mnt))
        assert p.returncode == 2, p.stderr
        assert f"--ca-file {bad}" in p.stderr and reason in p.stderr
    # As curl: CURL_CA_BUNDLE, else SSL_CERT_FILE.
    env = {k: v for k, v in os.environ.items() if k not in ("CURL_CA_BUNDLE", "DATUMFS_CA_FILE")}
    for name in ("SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        env[name] = str(tmp_path / f"{name}.pem")
        p = subprocess.run([DATUMFS, "mount", "--inputs", str(inputs), str(mnt)], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and f"{name} {tmp_path}/{name}.pem" in p.stderr, p.stderr


@pytest.fixture
def plain_store(tmp_path):
    s = Store(str(tmp_path / "plain-store")).start()
    yield s
    s.stop()


@pytest.mark.parametrize("case", ["untrusted", "other_ca", "wrong_host", "expired"])
def test_a_bad_certificate_fails_reads_at_once_with_one_line(mounts, tmp_path, plain_store,
                                                             certs, case, monkeypatch):
    pair = {"untrusted": certs.good, "other_ca": certs.other_ca,
            "wrong_host": certs.wrong_host, "expired": certs.expired}[case]
    monkeypatch.delenv("DATUMFS_CA_FILE", raising=False)
    bad = Store(str(tmp_path / "bad-store"), tls=pair).start()
    try:
        files = make_files(4)
        plain = {"plain.txt": b"served over plain http\n"}
        inputs = tmp_path / "inputs.json"
        write_inputs(inputs, bad, {"s": list(files.items())})
        doc = json.loads(inputs.read_text())
        write_inputs(tmp_path / "plain.json", plain_store, {"p": list(plain.items())})
        doc.update(json.loads((tmp_path / "plain.json").read_text()))
        inputs.write_text(json.dumps(doc))
        log = tmp_path / "datumfs.log"
        # "untrusted": the system's CAs, which do not know the test CA.
        args = ["--log-file", str(log)] + ([] if case == "untrusted" else ["--ca-file", certs.ca])
        mnt = mounts.mount(inputs, args=args)
        for name in files:
            with pytest.raises(OSError) as e:
                with open(os.path.join(mnt, "s", name), "rb") as f:
                    f.read()
            assert e.value.errno == errno.EIO, name
        # The daemon serves what it can.
        with open(os.path.join(mnt, "p/plain.txt"), "rb") as f:
            assert f.read() == plain["plain.txt"]
        stats = stats_of(mnt)
        assert stats["tls_errors"] >= len(files) and stats["retries"] == 0, stats
        assert daemon_pids(mnt)
        text = log.read_text()
        expect = {"untrusted": "is not signed by a CA this machine trusts: pass --ca-file",
                  "other_ca": "is not signed by a CA this machine trusts: pass --ca-file",
                  "wrong_host": "is for another host name",
                  "expired": "has expired"}[case]
        lines = [line for line in text.splitlines() if expect in line]
        assert len(lines) == 1, text
        assert f"the TLS certificate of 127.0.0.1:{bad.port} " in lines[0]
        assert lines[0].split()[3] == "error"
        assert "md5=" not in text and "expires=" not in text
    finally:
        bad.stop()


# Run inside a mount namespace whose /etc/ssl/certs is empty, as in a container image without
# ca-certificates: mounts, reads, and prints what happened as JSON.
NO_BUNDLE_SCRIPT = r"""
set -e
mount -t tmpfs none /etc/ssl/certs
"$DATUMFS" mount --inputs "$INPUTS" --api /nonexistent --cache-dir "$CACHE" --log-file "$LOG" "$MNT"
/usr/bin/python3 - <<'PY'
import errno, json, os
out = {"errors": {}}
for name in sorted(os.listdir(os.path.join(os.environ["MNT"], "s"))):
    try:
        with open(os.path.join(os.environ["MNT"], "s", name), "rb") as f:
            f.read()
        out["errors"][name] = 0
    except OSError as e:
        out["errors"][name] = e.errno
out["stats"] = json.loads(os.getxattr(os.environ["MNT"], "user.datumfs.stats"))
print(json.dumps(out))
PY
fusermount3 -u "$MNT"
"""


def test_no_ca_bundle_fails_reads_at_once_with_one_line(tmp_path, https_store):
    files = make_files(5)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, https_store, {"s": list(files.items())})
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "datumfs.log"
    env = {k: v for k, v in os.environ.items()
           if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "DATUMFS_CA_FILE")}
    env.update(DATUMFS=DATUMFS, INPUTS=str(inputs), CACHE=str(tmp_path / "cache"),
               LOG=str(log), MNT=str(mnt))
    p = subprocess.run(["unshare", "-m", "bash", "-c", NO_BUNDLE_SCRIPT], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["errors"] == {name: errno.EIO for name in files}
    assert out["stats"]["tls_errors"] >= len(files) and out["stats"]["retries"] == 0
    text = log.read_text()
    lines = [line for line in text.splitlines() if "install ca-certificates" in line]
    assert len(lines) == 1, text
    assert "no CA certificates to check" in lines[0] and "--ca-file" in lines[0], lines[0]


class SilentServer:
    """Accepts TCP connections and never says a word: a TLS handshake there never finishes."""

    def __init__(self):
        import socket
        import threading
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        try:
            while True:
                self.held.append(self.listener.accept()[0])
        except OSError:
            pass  # closed

    def close(self):
        self.listener.close()
        for s in self.held:
            s.close()


def test_a_server_without_tls_or_a_handshake_that_never_ends(mounts, tmp_path, plain_store,
                                                            monkeypatch):
    monkeypatch.delenv("DATUMFS_CA_FILE", raising=False)
    silent = SilentServer()
    try:
        plain_store.put("p/a.txt", b"plain bytes\n")
        http_url = plain_store.url("p/a.txt")
        entries = [("not-tls.txt", "https" + http_url[len("http"):], 12)]
        entries += [(f"silent{i}.bin", f"https://127.0.0.1:{silent.port}/o{i}?sig=x", 100)
                    for i in range(2)]
        doc = {"s": {"input_id": "00000000-0000-4000-8000-000000000009",
                     "files": [{"name": n, "size": size, "storage_uri": url}
                               for n, url, size in entries]}}
        inputs = tmp_path / "inputs.json"
        inputs.write_text(json.dumps(doc))
        log = tmp_path / "datumfs.log"
        mnt = mounts.mount(inputs, args=["--log-file", str(log), "--read-timeout", "2"])
        for name, _, _ in entries:
            with pytest.raises(OSError) as e:
                with open(os.path.join(mnt, "s", name), "rb") as f:
                    f.read()
            assert e.value.errno == errno.EIO, name
        text = log.read_text()
        lines = [line for line in text.splitlines() if "does not speak TLS" in line]
        assert len(lines) == 1 and f"127.0.0.1:{plain_store.port} does not speak TLS" in lines[0]
        lines = [line for line in text.splitlines()
                 if f"the TLS handshake with 127.0.0.1:{silent.port} did not finish" in line
                 and line.split()[3] == "warning"]
        assert len(lines) == 1, text
        assert "sig=" not in text and "md5=" not in text
    finally:
        silent.close()
