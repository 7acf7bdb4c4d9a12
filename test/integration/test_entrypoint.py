"""packaging/container/entrypoint.sh, run for real in a private mount namespace (as in a
container): it mounts, runs the command with the tree visible, passes SIGTERM on, exits with
the command's status and leaves no mount and no daemon behind."""

import os
import shutil
import signal
import subprocess
import time

from conftest import DATUMFS, is_mounted, require

ENTRYPOINT = os.path.join(os.path.dirname(__file__), "..", "..", "packaging", "container",
                          "entrypoint.sh")


def container_env(dataset, tmp_path, mnt):
    require(shutil.which("unshare"), "unshare (util-linux) is not installed")
    return dict(os.environ,
                PATH=os.path.dirname(os.path.abspath(DATUMFS)) + ":" + os.environ["PATH"],
                DATUMFS_INPUTS=str(dataset["inputs"]), DATUMFS_API=str(tmp_path / "no-api.json"),
                DATUMFS_MOUNTPOINT=str(mnt), DATUMFS_CACHE_DIR=str(tmp_path / "cache"))


def in_private_namespace(script, env):
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          env=env, capture_output=True, text=True, timeout=60)


def daemons_for(mnt):
    """datumfs processes started with DATUMFS_MOUNTPOINT=mnt (the entrypoint passes the
    mountpoint in the environment, not on the command line)."""
    want = f"DATUMFS_MOUNTPOINT={mnt}".encode()
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().split(b"\0")[0].endswith(b"datumfs"):
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


def wait_gone(mnt, limit=5.0):
    deadline = time.time() + limit
    while daemons_for(mnt) and time.time() < deadline:
        time.sleep(0.05)
    return daemons_for(mnt)


def test_entrypoint_mounts_runs_the_command_and_leaves_no_mount(mounts, dataset, tmp_path):
    mnt = tmp_path / "inputs"  # created by the entrypoint
    env = container_env(dataset, tmp_path, mnt)
    job = f"cat {mnt}/train/labels.csv; grep -c ' {mnt} fuse.datumfs ' /proc/self/mounts; exit 7"
    p = in_private_namespace(
        f"sh {ENTRYPOINT} sh -c \"{job}\"; echo status=$?; "
        f"grep -c ' {mnt} ' /proc/self/mounts || true", env)
    lines = p.stdout.splitlines()
    assert lines[:3] == ["id,label", "1,dog", "2,cat"], p.stdout + p.stderr
    assert lines[3:] == ["1", "status=7", "0"], p.stdout + p.stderr
    assert not is_mounted(str(mnt))  # never seen outside the namespace
    assert wait_gone(mnt) == []


def test_entrypoint_passes_sigterm_on_and_unmounts(mounts, dataset, tmp_path):
    mnt = tmp_path / "inputs"
    env = container_env(dataset, tmp_path, mnt)
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", ENTRYPOINT,
                             "sleep", "60"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        mounted = False
        while time.time() < deadline and not mounted:  # unshare execs: its pid is the shell's
            with open(f"/proc/{proc.pid}/mounts") as f:
                mounted = any(l.split()[1] == str(mnt) for l in f)
            time.sleep(0.05)
        assert mounted
        assert daemons_for(mnt)
        time.sleep(0.2)  # the job has started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM  # the job's status: killed by TERM
        assert wait_gone(mnt) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_entrypoint_without_a_command_is_a_usage_error(tmp_path):
    p = subprocess.run(["sh", ENTRYPOINT], capture_output=True, text=True)
    assert p.returncode == 2 and "no command to run" in p.stderr

