"""What a mount writes to its log: Valohai-style lines for files read through, to
--log-file when detached, and never a token or a URL signature, even while URLs are
being refreshed."""

import os
import re
import stat
import subprocess
import time
import urllib.parse

from api_standin import TOKEN, ApiStandIn
from conftest import is_mounted, unmount, wait_for
from store import write_inputs


def read(path, size=-1):
    with open(path, "rb") as f:
        return f.read(size)


def lines_for(log, mnt, name):
    path = re.escape(f"{mnt}/{name}")
    return re.findall(rf"^.* info {path}: (.*)$", log, re.M)


def test_files_read_through_get_one_line_fetched_then_cached(mounts, dataset, tmp_path):
    log1, log2 = tmp_path / "first.log", tmp_path / "second.log"
    mnt = mounts.mount(dataset["inputs"], args=["--log-file", str(log1)])
    assert stat.S_IMODE(os.stat(log1).st_mode) == 0o600
    train = dict(dataset["files"]["train"])
    big = os.path.join(mnt, "train/dogs/000201.jpg")
    assert len(read(big, 4096)) == 4096  # the start only (and the kernel's read-ahead)
    assert read(os.path.join(mnt, "train/labels.csv")) == train["labels.csv"]
    assert lines_for(log1.read_text(), mnt, "train/dogs/000201.jpg") == []
    # Read through by a second open: the start comes from the page cache, and the file
    # still counts as read through, once.
    assert read(big) == train["dogs/000201.jpg"]
    assert read(big) == train["dogs/000201.jpg"]
    text = log1.read_text()
    assert [re.fullmatch(r"fetched 1\.8 MB in \d+\.\d s", m) is not None
            for m in lines_for(text, mnt, "train/dogs/000201.jpg")] == [True]
    assert [re.fullmatch(r"fetched 21 B in \d+\.\d s", m) is not None
            for m in lines_for(text, mnt, "train/labels.csv")] == [True]
    assert f"{mnt}: mounted (2 inputs" in text

    # Another mount on the same cache: the same file comes from the cache.
    for _ in range(100):
        if os.getxattr(os.path.join(mnt, "train/dogs/000201.jpg"),
                       "user.datumfs.cached_bytes") == b"1828388":
            break
        time.sleep(0.05)
    mnt2 = mounts.mount(dataset["inputs"], args=["--log-file", str(log2)])
    assert read(os.path.join(mnt2, "train/dogs/000201.jpg")) == train["dogs/000201.jpg"]
    unmount(mnt2)
    text = log2.read_text()
    assert len(lines_for(text, mnt2, "train/dogs/000201.jpg")) == 1
    assert re.fullmatch(r"cached 1\.8 MB in \d+\.\d s",
                        lines_for(text, mnt2, "train/dogs/000201.jpg")[0])
    # Written as the daemon exits, a moment after fusermount returns (longer under TSan).
    assert wait_for(lambda: f"{mnt2}: unmounted" in log2.read_text(), timeout=30), text


def test_a_log_file_that_cannot_be_written_is_a_usage_error(mounts, dataset, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    bad = tmp_path / "no" / "such" / "dir" / "x.log"
    p = mounts.run("--inputs", str(dataset["inputs"]), "--log-file", str(bad), str(mnt))
    assert p.returncode == 2
    assert str(bad) in p.stderr and "No such file or directory" in p.stderr
    assert not is_mounted(str(mnt))


def test_no_token_or_signature_in_a_log_written_during_url_refresh(mounts, store, tmp_path):
    files = {"ds": [(f"f{i}.bin", os.urandom(300_000 + i)) for i in range(3)]}
    inputs = tmp_path / "inputs.json"
    doc = write_inputs(inputs, store, files, expires_in=-10)  # expired: every read refreshes
    signatures = []
    for f in doc["ds"]["files"]:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(f["storage_uri"]).query)
        signatures += query["md5"] + query["expires"]
    api = ApiStandIn(store, doc)
    log = tmp_path / "trace.log"
    try:
        mnt = mounts.mount(inputs, api=api.api_json(tmp_path / "api.json"),
                           args=["--log-file", str(log), "--log-level", "trace"])
        for name, data in files["ds"]:
            assert read(os.path.join(mnt, "ds", name)) == data
        unmount(mnt)
        # a failing refresh logs too: a fresh mount (no cache) whose API answers 500
        api.mode = "status_500"
        mnt = mounts.mount(inputs, api=api.api_json(tmp_path / "api.json"),
                           cache=tmp_path / "cache2",
                           args=["--log-file", str(log), "--log-level", "trace"])
        p = subprocess.run(["cat", os.path.join(mnt, "ds/f1.bin")], capture_output=True)
        assert p.returncode != 0
        unmount(mnt)
    finally:
        api.stop()
    assert sum(api.refreshes.values()) >= 1
    text = log.read_text()
    assert "fetched" in text and "fresh URLs from input_request" in text, text[-2000:]
    assert "input_request for input" in text and "HTTP 500" in text, text[-2000:]
    assert TOKEN not in text
    assert "md5=" not in text and "expires=" not in text
    for s in signatures:
        assert s not in text
