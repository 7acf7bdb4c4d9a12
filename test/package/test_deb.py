"""The Debian package: builds with `dpkg-buildpackage -b -us -uc` from packaging/debian,
installs with `apt-get install ./datumfs_<version>_<arch>.deb`, and the installed binary
mounts: directly, through `mount -t fuse.datumfs`, from an fstab line, and through the
installed container entrypoint. Man page and unit are where they belong.

It installs into the machine's /usr, so it runs only when DATUMFS_PACKAGE_TEST=1 (the README's
test command, test/run-all.sh, sets it; CI runs that on a fresh machine). It purges the
package again at the end."""

import hashlib
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))

from conftest import is_mounted, unmount  # noqa: E402
from store import Store, write_inputs  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("DATUMFS_PACKAGE_TEST") != "1",
                                reason="installs a package: set DATUMFS_PACKAGE_TEST=1")


def run(*cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{cmd}: {p.stdout[-3000:]}{p.stderr[-3000:]}"
    return p


def version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        return re.search(r"version: '([^']+)'", f.read())[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    assert os.geteuid() == 0, "installing a package needs root"
    for tool in ("dpkg-buildpackage", "apt-get", "git"):
        assert shutil.which(tool), f"{tool} is missing (.ci/install-deps installs it)"
    work = tmp_path_factory.mktemp("deb")
    run("bash", os.path.join(ROOT, "packaging", "build-deb.sh"), str(work))
    arch = run("dpkg", "--print-architecture").stdout.strip()
    deb = work / f"datumfs_{version()}_{arch}.deb"
    assert deb.exists(), sorted(os.listdir(work))
    run("apt-get", "install", "-y", "-q", f"./{deb.name}", cwd=work,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    yield deb
    run("apt-get", "purge", "-y", "-q", "datumfs",
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert not os.path.exists("/usr/bin/datumfs")


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "store")).start()
    yield s
    s.stop()


def test_the_package_has_binary_man_page_unit_and_example(installed):
    listing = run("dpkg-deb", "-c", str(installed)).stdout
    for path in ["./usr/bin/datumfs", "./usr/bin/datumfs-entrypoint",
                 "./usr/share/man/man1/datumfs.1.gz", "./lib/systemd/system/datumfs@.service",
                 "./usr/share/doc/datumfs/examples/datumfs.conf.example",
                 "./usr/share/datumfs/site-cache/datumfs-site-cache.conf",
                 "./usr/share/datumfs/site-cache/origins.map",
                 "./usr/share/datumfs/site-cache/clients.conf"]:
        assert re.search(rf" {re.escape(path)}$", listing, re.M), path
    assert "fuse3" in run("dpkg-deb", "-f", str(installed), "Depends").stdout
    assert run("/usr/bin/datumfs", "--version").stdout.strip() == f"datumfs {version()}"
    assert run("man", "-w", "datumfs").stdout.strip() == "/usr/share/man/man1/datumfs.1.gz"
    p = run("systemd-analyze", "verify", "/lib/systemd/system/datumfs@pkgtest.service")
    assert p.stderr == ""


def test_the_installed_binary_mounts_directly_through_mount_and_from_fstab(installed, store,
                                                                           tmp_path):
    data = os.urandom(3 << 20)
    inputs = tmp_path / "inputs.json"
    write_inputs(inputs, store, {"ds": [("x/data.bin", data)]})
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cache = tmp_path / "cache"
    api = tmp_path / "no-api.json"

    def read_and_unmount():
        try:
            assert is_mounted(str(mnt))
            with open(mnt / "ds/x/data.bin", "rb") as f:
                assert f.read() == data
        finally:
            unmount(str(mnt))
        assert not is_mounted(str(mnt))

    run("/usr/bin/datumfs", "mount", "--inputs", str(inputs), "--api", str(api),
        "--cache-dir", str(cache), str(mnt))
    read_and_unmount()

    options = f"api={api},cache_dir={cache},allow_other"
    run("mount", "-t", "fuse.datumfs", str(inputs), str(mnt), "-o", options)
    read_and_unmount()

    fstab = tmp_path / "fstab"
    fstab.write_text(f"{inputs} {mnt} fuse.datumfs {options},_netdev,nofail 0 0\n")
    run("mount", "-T", str(fstab), str(mnt))
    read_and_unmount()

    env = dict(os.environ, DATUMFS_INPUTS=str(inputs), DATUMFS_API=str(api),
               DATUMFS_CACHE_DIR=str(cache), DATUMFS_MOUNTPOINT=str(mnt))
    p = run("unshare", "-m", "--propagation", "private", "datumfs-entrypoint", "sha256sum",
            str(mnt / "ds/x/data.bin"), env=env)
    assert p.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    assert not is_mounted(str(mnt))
