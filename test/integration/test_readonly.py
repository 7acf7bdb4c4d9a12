"""Nothing in the mount can be changed: every write-like operation is EROFS."""

import errno
import os

import pytest


@pytest.fixture
def mnt(mounts, dataset):
    return mounts.mount(dataset["inputs"])


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
