"""systemd/datumfs@.service: passes `systemd-analyze verify`, and its ExecStart, run the way
systemd runs it (environment from the unit and the example configuration, NOTIFY_SOCKET),
reports READY=1 only once the tree is visible, and unmounts cleanly on SIGTERM."""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess

from conftest import DATUMFS, is_mounted, require, unmount

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
UNIT = os.path.join(ROOT, "systemd", "datumfs@.service")
EXAMPLE = os.path.join(ROOT, "systemd", "datumfs.conf.example")


def unit_lines(key):
    with open(UNIT) as f:
        return [l.split("=", 1)[1].strip() for l in f if l.startswith(key + "=")]


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    require(shutil.which("systemd-analyze"), "systemd-analyze (systemd) is not installed")
    require(DATUMFS and os.path.exists(DATUMFS), "datumfs binary not built (DATUMFS_BIN)")
    # verify checks that ExecStart's program and the Documentation man page exist: point them
    # at this build and this source tree.
    with open(UNIT) as f:
        text = f.read()
    text = text.replace("/usr/bin/datumfs", os.path.abspath(DATUMFS))
    text = text.replace("/etc/datumfs/", str(tmp_path) + "/")
    (tmp_path / "datumfs@.service").write_text(text)
    shutil.copy(EXAMPLE, tmp_path / "test.conf")
    man1 = tmp_path / "man" / "man1"
    man1.mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "doc", "datumfs.1"), man1)
    p = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "datumfs@test.service")],
                       capture_output=True, text=True, env=dict(os.environ, MANPATH=str(tmp_path / "man")),
                       cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert unit_lines("Type") == ["notify"]
    assert "-o allow_other" in unit_lines("ExecStart")[0]


def service_environment(conf):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for line in unit_lines("Environment"):
        key, value = line.split("=", 1)
        env[key] = value
    for line in conf.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


def test_execstart_notifies_ready_once_mounted_and_stops_cleanly(mounts, dataset, tmp_path):
    mnt = tmp_path / "srv-mnt"
    mnt.mkdir()
    conf = tmp_path / "test.conf"
    text = open(EXAMPLE).read()
    text = text.replace("/srv/valohai/NAME/inputs.json", str(dataset["inputs"]))
    text = text.replace("/srv/valohai/NAME/api.json", str(tmp_path / "no-api.json"))
    text = text.replace("/mnt/datumfs/NAME", str(mnt))
    text = text.replace("/var/cache/datumfs", str(tmp_path / "host-cache"))
    # The store's certificate is of the tests' own CA: named as an operator would.
    text = text.replace("#DATUMFS_CA_FILE=/etc/datumfs/store-ca.pem",
                        "DATUMFS_CA_FILE=" + os.environ["DATUMFS_CA_FILE"])
    assert "DATUMFS_CA_FILE=/" in text
    conf.write_text(text)
    argv = shlex.split(unit_lines("ExecStart")[0])
    assert argv[0] == "/usr/bin/datumfs"
    argv[0] = DATUMFS
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(15)
    env = service_environment(conf)
    env["NOTIFY_SOCKET"] = str(tmp_path / "notify.sock")
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        message = notify.recv(4096).decode()
        assert message.startswith("READY=1\n") and f"STATUS={mnt}: mounted" in message
        assert is_mounted(str(mnt))  # when READY=1 arrives, the tree is there
        with open("/proc/self/mounts") as f:
            options = next(l for l in f if l.split()[1] == str(mnt)).split()[3]
        assert "allow_other" in options.split(",")
        data = dict(dataset["files"]["train"])
        with open(mnt / "train/dogs/000201.jpg", "rb") as f:
            assert f.read() == data["dogs/000201.jpg"]
        assert os.path.isdir(tmp_path / "host-cache")  # DATUMFS_CACHE_DIR from the config
        proc.send_signal(signal.SIGTERM)  # systemctl stop
        assert proc.wait(timeout=30) == 0
        assert notify.recv(4096).decode() == "STOPPING=1"
        assert not is_mounted(str(mnt))
        err = proc.stderr.read()
        assert re.search(rf"{re.escape(str(mnt))}: unmounted", err), err
    finally:
        if proc.poll() is None:
            proc.kill()
        unmount(str(mnt))
        notify.close()
