"""Nothing in the mount can be changed: every write-like operation is EROFS.

Mounted read-only (the default) the kernel answers EROFS before datumfs sees the request; so
each test also runs on a mount made with `-o rw`, where every request reaches the daemon's
handlers and they must answer EROFS themselves."""

import errno
import os

import pytest


def mount_options(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return next(line.split()[3].split(",") for line in f if line.split()[1] == path)


@pytest.fixture(params=["ro", "rw"])
def mnt(request, mounts, dataset):
    if request.param == "ro":
        m = mounts.mount(dataset["inputs"])
        assert "ro" in mount_options(m)
    else:
        m = mounts.mount(dataset["inputs"], args=["-o", "rw"])
        assert "rw" in mount_options(m)  # the kernel passes writes on to the daemon
    return m


def erofs(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == errno.EROFS, (fn, args, e.value)


def test_write_like_operations_are_erofs(mnt):
    f = os.path.join(mnt, "train/labels.csv")
    erofs(os.open, f, os.O_WRONLY)
    erofs(os.open, f, os.O_RDWR)
    erofs(os.open, os.path.join(mnt, "train/new.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
    erofs(os.mkdir, os.path.join(mnt, "train/newdir"))
    erofs(os.rename, f, os.path.join(mnt, "train/renamed.csv"))
    erofs(os.unlink, f)
    erofs(os.rmdir, os.path.join(mnt, "train/dogs"))
    erofs(os.chmod, f, 0o777)
    erofs(os.truncate, f, 0)
    erofs(os.symlink, "x", os.path.join(mnt, "train/link"))
    erofs(os.link, f, os.path.join(mnt, "train/hard"))
    erofs(os.setxattr, f, "user.x", b"1")
    erofs(os.utime, f, (1, 1))


def test_nothing_changed_after_the_attempts(mnt, dataset):
    test_write_like_operations_are_erofs(mnt)
    assert open(os.path.join(mnt, "train/labels.csv"), "rb").read() == \
        dict(dataset["files"]["train"])["labels.csv"]
    assert sorted(os.listdir(os.path.join(mnt, "train"))) == \
        ["cats", "dogs", "empty.txt", "labels.csv"]
