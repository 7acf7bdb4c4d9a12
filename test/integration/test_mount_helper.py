"""`mount -t fuse.datumfs` and /etc/fstab go through fuse3's mount.fuse3, which runs
`datumfs SOURCE DIR -o OPTIONS`. Here mount.fuse3 runs it for real, finding datumfs on PATH
(mount(8) itself only looks in the system directories: the Debian package test does that)."""

import os
import subprocess

from conftest import DATUMFS, is_mounted, require, unmount, wait_for


def mount_fuse3(source, mountpoint, options):
    require(os.path.exists("/sbin/mount.fuse3"), "fuse3's mount.fuse3 is not installed")
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(DATUMFS)) + ":" +
               os.environ.get("PATH", "/usr/bin:/bin"))
    assert os.path.basename(DATUMFS) == "datumfs"
    return subprocess.run(["/sbin/mount.fuse3", str(source), str(mountpoint), "-t", "datumfs",
                           "-o", options], env=env, capture_output=True, text=True, timeout=60)


def test_mount_fuse3_mounts_with_datumfs_options_in_o(mounts, dataset, tmp_path):
    mnt = tmp_path / "helper"
    mnt.mkdir()
    log = tmp_path / "helper.log"
    cache = tmp_path / "helper-cache"
    try:
        p = mount_fuse3(dataset["inputs"], mnt,
                        f"ro,allow_other,_netdev,nofail,cache_dir={cache},cache_max=64M,"
                        f"log_file={log},log_level=debug,read_timeout=5")
        assert p.returncode == 0, p.stderr
        assert is_mounted(str(mnt))
        with open("/proc/self/mounts") as f:
            line = next(l for l in f if l.split()[1] == str(mnt))
        assert line.split()[2] == "fuse.datumfs"
        assert "allow_other" in line.split()[3] and line.split()[3].startswith("ro,")
        data = dict(dataset["files"]["train"])
        with open(mnt / "train/dogs/000201.jpg", "rb") as f:
            assert f.read() == data["dogs/000201.jpg"]
        assert os.path.exists(cache / "index")
        unmount(str(mnt))
        # The daemon writes it as it exits, a moment after the mount is gone.
        assert wait_for(lambda: f"{mnt}: unmounted" in log.read_text()), log.read_text()
    finally:
        unmount(str(mnt))


def test_helper_form_errors_are_usage_errors(mounts, dataset, tmp_path):
    mnt = tmp_path / "bad"
    mnt.mkdir()
    p = subprocess.run([DATUMFS, str(dataset["inputs"]), str(mnt), "-o", "cache_max"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "cache_max" in p.stderr and "needs a value" in p.stderr
    p = subprocess.run([DATUMFS, str(dataset["inputs"]), str(mnt), "-o", "cache_max=lots"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "lots" in p.stderr
    assert not is_mounted(str(mnt))
