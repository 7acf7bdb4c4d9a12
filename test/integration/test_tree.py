"""The mounted tree matches inputs.json, and metadata never touches the store."""

import os
import stat
import subprocess


def walk(root):
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            found[os.path.normpath(os.path.join(rel, d))] = "dir"
        for f in filenames:
            found[os.path.normpath(os.path.join(rel, f))] = os.stat(os.path.join(dirpath, f)).st_size
    return found


def test_tree_matches_inputs_json(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    expected = {}
    for input_name, files in dataset["files"].items():
        expected[input_name] = "dir"
        for name, data in files:
            parts = name.split("/")
            for i in range(1, len(parts)):
                expected[os.path.join(input_name, *parts[:i])] = "dir"
            expected[os.path.join(input_name, name)] = len(data)
    assert walk(mnt) == expected


def test_listing_and_stat_make_no_store_requests(mounts, dataset, store):
    mnt = mounts.mount(dataset["inputs"])
    before = store.mark()
    out = subprocess.run(["ls", "-lR", mnt], capture_output=True, text=True, check=True).stdout
    assert "000201.jpg" in out and "1828388" in out
    for dirpath, dirnames, filenames in os.walk(mnt):
        for name in dirnames + filenames:
            os.stat(os.path.join(dirpath, name))
    subprocess.run(["find", mnt, "-type", "f", "-size", "+1k"], check=True, capture_output=True)
    assert store.requests(since=before) == []


def test_attributes_are_read_only_and_sized(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    st = os.stat(os.path.join(mnt, "train/dogs/000201.jpg"))
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o444
    assert st.st_size == 1828388
    assert st.st_blocks == (1828388 + 511) // 512
    d = os.stat(os.path.join(mnt, "train/dogs"))
    assert stat.S_ISDIR(d.st_mode)
    assert stat.S_IMODE(d.st_mode) == 0o555
    vfs = os.statvfs(mnt)
    assert vfs.f_flag & os.ST_RDONLY
    assert vfs.f_namemax == 255


def test_missing_names_are_enoent(mounts, dataset):
    mnt = mounts.mount(dataset["inputs"])
    for path in ["nope", "train/nope", "train/dogs/000201.jpg/x"]:
        try:
            os.stat(os.path.join(mnt, path))
            raise AssertionError(path + " exists")
        except (FileNotFoundError, NotADirectoryError):
            pass


def test_times_are_the_same_on_every_mount_so_rsync_copies_nothing_twice(mounts, dataset,
                                                                         tmp_path):
    from conftest import require
    import shutil
    import time
    require(shutil.which("rsync"), "rsync is not installed")
    first = mounts.mount(dataset["inputs"])
    times = {p: os.stat(os.path.join(first, p)).st_mtime_ns for p in walk(first)}
    assert len(set(times.values())) > len(times) // 2  # not one time for everything
    copy = tmp_path / "copy"
    p = subprocess.run(["rsync", "-a", first + "/", str(copy)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    mounts.cleanup()
    time.sleep(1.1)  # a time taken from the clock would now differ
    again = mounts.mount(dataset["inputs"])
    assert {p: os.stat(os.path.join(again, p)).st_mtime_ns for p in walk(again)} == times
    p = subprocess.run(["rsync", "-a", "--itemize-changes", "--out-format=%i %n",
                        again + "/", str(copy)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert [line for line in p.stdout.splitlines() if line.startswith(">f")] == []
