"""The chaos test under pytest (meson test --suite chaos): runs test/chaos/chaos.py once.

CHAOS_SEED fixes the seed (default: a new one each run, printed); CHAOS_DURATION the seconds of
chaos (default 180 in CI, 60 elsewhere); CHAOS_ARGS adds options (say "--keep-going --core").
A failure shows the seed, the failing ops, the op log and the daemons' logs."""

import os
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATUMFS = os.environ.get("DATUMFS_BIN") or shutil.which("datumfs")
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from prereq import IN_CI, require  # noqa: E402


def test_chaos():
    require(DATUMFS and os.path.exists(DATUMFS), "datumfs binary not built (DATUMFS_BIN)")
    require(os.path.exists("/dev/fuse"), "/dev/fuse is missing")
    require(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx is not installed")
    require(os.geteuid() == 0, "needs root (a tmpfs for the cache)")
    duration = float(os.environ.get("CHAOS_DURATION") or (180 if IN_CI else 60))
    args = [sys.executable, os.path.join(HERE, "chaos.py"), "--duration", str(duration),
            "--datumfs", DATUMFS]
    if os.environ.get("CHAOS_SEED"):
        args += ["--seed", os.environ["CHAOS_SEED"]]
    args += shlex.split(os.environ.get("CHAOS_ARGS", ""))
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=duration + 700)
    print(p.stdout)
    assert p.returncode == 0, "chaos failed: the seed, the failing ops and the logs are above"
