"""A large inputs.json is streamed: the daemon's memory follows the tree, not the text."""

import json
import os

from conftest import SANITIZED, daemon_pids

FILES = 50_000


def write_big_inputs(path, store):
    """FILES entries, each with 2 KB of metadata that datumfs must not keep."""
    store.put("big/one", b"x" * 10)
    url = store.url("big/one")
    blob = json.dumps([{"index": i, "note": "m" * 150} for i in range(12)])
    with open(path, "w") as f:
        f.write('{"big": {"input_id": "i", "files": [\n')
        for i in range(FILES):
            f.write(("," if i else "") + '{"datum_id": "d%07d", "name": "s%02d/f%07d.jpg", '
                    '"size": 10, "storage_uri": "%s", "metadata": %s}\n'
                    % (i, i % 50, i, url, blob))
        f.write("]}}\n")


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_large_manifest_mounts_with_memory_below_its_text(tmp_path, mounts, store):
    inputs = tmp_path / "big.json"
    write_big_inputs(inputs, store)
    text_bytes = os.path.getsize(inputs)
    assert text_bytes > 100 << 20
    mnt = mounts.mount(inputs)
    pid = daemon_pids(mnt)[0]
    count = sum(len(files) for _, _, files in os.walk(mnt))
    assert count == FILES
    assert open(os.path.join(mnt, "big/s07/f0000007.jpg"), "rb").read() == b"x" * 10
    # A DOM of this text would take several times its size; the tree takes a fraction.
    # (Sanitizer builds add shadow memory and quarantine: their figure means nothing here.)
    if not SANITIZED:
        assert peak_rss_bytes(pid) < text_bytes * 0.5, (peak_rss_bytes(pid), text_bytes)
