"""-o passes FUSE mount options through: allow_other lets other users read the mount."""

import os
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture
def public_dir():
    d = tempfile.mkdtemp(prefix="datumfs-public-")
    os.chmod(d, 0o755)  # pytest's own tmp_path is 0700: other users could not reach a mount there
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(*cmd):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd],
                          capture_output=True, text=True)


def test_other_users_cannot_read_without_allow_other(mounts, dataset, public_dir):
    mnt = mounts.mount(dataset["inputs"], mountpoint=os.path.join(public_dir, "m"))
    p = as_nobody("cat", os.path.join(mnt, "train/labels.csv"))
    assert p.returncode != 0
    assert "Permission denied" in p.stderr


def test_allow_other_lets_other_users_read(mounts, dataset, public_dir):
    mnt = mounts.mount(dataset["inputs"], mountpoint=os.path.join(public_dir, "m"),
                       args=["-o", "allow_other"])
    p = as_nobody("cat", os.path.join(mnt, "train/labels.csv"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == dict(dataset["files"]["train"])["labels.csv"].decode()
