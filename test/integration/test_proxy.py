"""Behind a proxy (a real squid): https_proxy and no_proxy are honoured as curl does; reads
through the proxy are exact; a proxy that wants credentials, refuses the tunnel or is down
gives EIO and a line naming the proxy, never its credentials; the permanent ones at once,
without retries, once."""

import errno
import os
import random

import pytest

from conftest import require, stats_of, wait_for
from squid import PASSWORD, USER, Squid, squid_binary
from store import free_port, write_inputs

PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")


@pytest.fixture
def proxy_env(monkeypatch):
    """A clean slate of proxy variables; returns monkeypatch to set some."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def start_squid(mode):
    require(squid_binary(), "squid is not installed")
    return Squid(mode).start()


@pytest.fixture
def files(tmp_path, store):
    rng = random.Random(8)
    data = {"a.bin": rng.randbytes(2 * (1 << 20) + 7), "b.txt": b"through the proxy\n"}
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"s": list(data.items())})
    return inputs, data


def read_all(mnt, data):
    for name, want in data.items():
        with open(os.path.join(mnt, "s", name), "rb") as f:
            assert f.read() == want, name


@pytest.mark.parametrize("mode", ["open", "auth"])
def test_reads_through_a_proxy_are_exact(mounts, tmp_path, store, files, proxy_env, mode):
    inputs, data = files
    squid = start_squid(mode)
    try:
        proxy_env.setenv("https_proxy", squid.url(USER, PASSWORD) if mode == "auth" else
                         squid.url())
        log = tmp_path / "datumfs.log"
        mnt = mounts.mount(inputs, args=["--log-file", str(log), "--log-level", "debug"])
        read_all(mnt, data)
        mounts.cleanup()  # squid logs a tunnel when it closes, a moment after the daemon exits

        def tunnels():
            return [r for r in squid.requests() if r[1] == "CONNECT"]

        assert wait_for(tunnels), squid.requests()
        assert all(r[0] == "TCP_TUNNEL/200" and r[2] == f"127.0.0.1:{store.port}"
                   for r in tunnels()), squid.requests()
        assert PASSWORD not in log.read_text()
    finally:
        squid.stop()


@pytest.mark.parametrize("case", ["no_credentials", "wrong_credentials", "denied"])
def test_a_proxy_that_refuses_fails_reads_at_once_with_one_line(mounts, tmp_path, store, files,
                                                                 proxy_env, case):
    inputs, data = files
    squid = start_squid("deny" if case == "denied" else "auth")
    try:
        secret = "Wr0ng-pa55word"
        proxy_env.setenv("https_proxy", squid.url(USER, secret) if case == "wrong_credentials"
                         else squid.url())
        log = tmp_path / "datumfs.log"
        mnt = mounts.mount(inputs, args=["--log-file", str(log)])
        for name in data:
            with pytest.raises(OSError) as e:
                with open(os.path.join(mnt, "s", name), "rb") as f:
                    f.read()
            assert e.value.errno == errno.EIO, name
        assert stats_of(mnt)["retries"] == 0
        text = log.read_text()
        expect = {"no_credentials": "wants credentials (HTTP 407 to CONNECT",
                  "wrong_credentials": "it refused the ones given",
                  "denied": "refused to CONNECT to"}[case]
        lines = [line for line in text.splitlines() if expect in line]
        assert len(lines) == 1, text
        assert f"the proxy http://127.0.0.1:{squid.port} (https_proxy)" in lines[0]
        assert lines[0].split()[3] == "error"
        assert secret not in text and "md5=" not in text
    finally:
        squid.stop()


def test_a_proxy_that_is_down_is_named_and_no_proxy_goes_around_it(mounts, tmp_path, store,
                                                                    files, proxy_env):
    inputs, data = files
    port = free_port()  # nothing listens there
    proxy_env.setenv("https_proxy", f"http://{USER}:{PASSWORD}@127.0.0.1:{port}")
    log = tmp_path / "datumfs.log"
    mnt = mounts.mount(inputs, args=["--log-file", str(log), "--read-timeout", "2"])
    with pytest.raises(OSError) as e:
        with open(os.path.join(mnt, "s/b.txt"), "rb") as f:
            f.read()
    assert e.value.errno == errno.EIO
    text = log.read_text()
    assert f"cannot connect to the proxy http://127.0.0.1:{port} (https_proxy)" in text, text
    assert PASSWORD not in text
    # no_proxy: the store is reached directly, the proxy being down does not matter.
    proxy_env.setenv("no_proxy", "127.0.0.1")
    read_all(mounts.mount(inputs, cache=tmp_path / "cache2"), data)
