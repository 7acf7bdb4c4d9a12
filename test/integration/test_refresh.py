"""Expired and refused URLs are refreshed through the input_request API: once per input,
however many readers need it; an API that is down or broken gives EIO, never a hang."""

import errno
import json
import os
import random
import subprocess
import threading
import time

import pytest

from api_standin import TOKEN, ApiStandIn
from conftest import DATUMFS, is_mounted, unmount
from store import write_inputs

KiB, MiB = 1 << 10, 1 << 20


def make(tmp_path, store, expires_in, n=16, size=2 * MiB):  # > 1 MiB: not fetched whole
    rng = random.Random(51)
    files = {"ds": [(f"f{i:02d}.bin", rng.randbytes(size)) for i in range(n)],
             "other": [("ok.txt", b"still served\n")]}
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, files, expires_in=expires_in)
    # "other" keeps URLs that never expire during the test
    for f in doc["other"]["files"]:
        f["storage_uri"] = store.url(f"other/{f['name']}", expires_in=3600)
    inputs.write_text(json.dumps(doc))
    return inputs, doc, files


def read_slowly(path, data, chunks, pause, errors):
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            step = len(data) // chunks
            for i in range(chunks):
                off = i * step
                if os.pread(fd, 4096, off) != data[off:off + 4096]:
                    errors.append(f"{path}: wrong bytes at {off}")
                time.sleep(pause)
        finally:
            os.close(fd)
    except OSError as e:
        errors.append(f"{path}: {e}")


def read_all_slowly(mnt, files, chunks, pause):
    """Every file read at once, one thread each; returns the errors."""
    errors = []
    threads = [threading.Thread(target=read_slowly,
                                args=(os.path.join(mnt, "ds", name), data, chunks, pause, errors))
               for name, data in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_urls_expiring_during_a_long_read_are_refreshed_once_for_16_readers(
        tmp_path, mounts, store):
    inputs, doc, files = make(tmp_path, store, expires_in=3)
    api = ApiStandIn(store, doc, lifetime=3600)
    try:
        assert api.scheme == "https"  # as the real input_request API: the session CA's cert
        mnt = mounts.mount(inputs, api=api.api_json(tmp_path / "api.json"),
                           args=["--refresh-margin", "1"])
        assert read_all_slowly(mnt, files["ds"], chunks=16, pause=0.25) == []
        assert api.refreshes == {doc["ds"]["input_id"]: 1}
    finally:
        api.stop()


def test_refused_urls_are_refreshed_once_for_16_readers(tmp_path, mounts, store):
    inputs, doc, files = make(tmp_path, store, expires_in=3600)
    for f in doc["ds"]["files"]:  # valid-looking, but the store refuses them (403)
        f["storage_uri"] = f["storage_uri"].replace("md5=", "md5=XX")
    inputs.write_text(json.dumps(doc))
    api = ApiStandIn(store, doc)
    try:
        mnt = mounts.mount(inputs, api=api.api_json(tmp_path / "api.json"))
        assert read_all_slowly(mnt, files["ds"], chunks=2, pause=0) == []
        assert api.refreshes == {doc["ds"]["input_id"]: 1}
    finally:
        api.stop()


@pytest.mark.parametrize("fault", ["down", "status_500", "bad_json", "bad_token"])
def test_a_broken_api_gives_eio_within_the_deadline(tmp_path, mounts, store, fault):
    inputs, doc, files = make(tmp_path, store, expires_in=-10, n=2, size=64 * KiB)
    api = ApiStandIn(store, doc)
    api_path = api.api_json(tmp_path / "api.json",
                            token="WRONG" if fault == "bad_token" else TOKEN)
    if fault == "down":
        api.stop()
    else:
        api.mode = fault
    try:
        mnt = mounts.mount(inputs, api=api_path, args=["--read-timeout", "3"])
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            open(os.path.join(mnt, "ds/f00.bin"), "rb").read()
        assert e.value.errno == errno.EIO
        assert time.monotonic() - t0 < 3 + 1.5
        assert open(os.path.join(mnt, "other/ok.txt"), "rb").read() == b"still served\n"
        if fault == "bad_token":
            assert api.unauthorized >= 1
    finally:
        if fault != "down":
            api.stop()


def test_no_token_or_signature_in_the_log(tmp_path, store):
    inputs, doc, files = make(tmp_path, store, expires_in=-10, n=1, size=8 * KiB)
    api = ApiStandIn(store, doc)
    mnt = str(tmp_path / "fg")
    os.mkdir(mnt)
    proc = subprocess.Popen([DATUMFS, "mount", "-f", "--log-level", "trace", "--inputs",
                             str(inputs), "--api", api.api_json(tmp_path / "api.json"),
                             "--cache-dir", str(tmp_path / "cache"), mnt],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not is_mounted(mnt) and time.time() < deadline:
            time.sleep(0.05)
        assert open(os.path.join(mnt, "ds/f00.bin"), "rb").read() == files["ds"][0][1]
        api.mode = "status_500"
        subprocess.run(["cat", os.path.join(mnt, "ds/nonexistent")], capture_output=True)
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        unmount(mnt)
        api.stop()
    assert api.refreshes == {doc["ds"]["input_id"]: 1}
    assert TOKEN not in err
    assert "md5=" not in err and "expires=" not in err
