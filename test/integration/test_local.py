"""Files that were downloaded into the mountpoint before the mount stay visible, exact."""

import os
import stat

from store import write_inputs


def test_predownloaded_files_stay_visible_and_exact(tmp_path, mounts, store):
    mnt = tmp_path / "inputs"
    (mnt / "config").mkdir(parents=True)
    (mnt / "config" / "params.json").write_bytes(b'{"lr": 0.1}\n')
    (mnt / "train").mkdir()
    local_bytes = os.urandom(100_000)
    (mnt / "train" / "already.bin").write_bytes(local_bytes)
    os.chmod(mnt / "train" / "already.bin", 0o640)
    os.utime(mnt / "config" / "params.json", (1_600_000_000, 1_600_000_000))
    remote = os.urandom(20_000)
    inputs = tmp_path / "inputs.json"
    # "already.bin" is also listed in inputs.json (an input downloaded up front): the disk wins.
    write_inputs(inputs, store, {"train": [("already.bin", b"remote copy"), ("lazy.bin", remote)]})
    mounts.mount(inputs, mountpoint=str(mnt))
    before = store.mark()
    assert open(mnt / "config" / "params.json", "rb").read() == b'{"lr": 0.1}\n'
    assert open(mnt / "train" / "already.bin", "rb").read() == local_bytes
    assert store.requests(since=before) == []
    assert sorted(os.listdir(mnt)) == ["config", "train"]
    assert sorted(os.listdir(mnt / "train")) == ["already.bin", "lazy.bin"]
    st = os.stat(mnt / "train" / "already.bin")
    assert st.st_size == len(local_bytes)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert os.stat(mnt / "config" / "params.json").st_mtime == 1_600_000_000
    assert open(mnt / "train" / "lazy.bin", "rb").read() == remote
    assert len(store.requests(since=before)) >= 1


def test_predownloaded_files_come_back_after_unmount(tmp_path, mounts, store):
    mnt = tmp_path / "inputs"
    mnt.mkdir()
    (mnt / "x.txt").write_bytes(b"local\n")
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"lazy": [("a", b"A")]})
    mounts.mount(inputs, mountpoint=str(mnt))
    assert sorted(os.listdir(mnt)) == ["lazy", "x.txt"]
    mounts.cleanup()
    assert os.listdir(mnt) == ["x.txt"]
    assert (mnt / "x.txt").read_bytes() == b"local\n"
