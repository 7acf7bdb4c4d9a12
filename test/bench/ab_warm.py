"""A/B of warm sequential reads: not a test. Reads a 512 MiB file through each datumfs binary
given, from one shared block cache, after a remount and with the page cache dropped, the
binaries taking turns for ROUNDS rounds (default 5); prints each one's median and every time.
The store is a local nginx (warm reads never reach it). Run as root:

    /usr/bin/python3 test/bench/ab_warm.py OLD/datumfs NEW/datumfs

Turns matter: this machine's speed drifts by more than the differences looked for, so a
figure is only compared with the other binaries' figures of the same run."""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from store import Store, write_inputs  # noqa: E402

SIZE = 512 << 20


def main(binaries, rounds):
    work = tempfile.mkdtemp(prefix="datumfs-ab-", dir="/var/tmp")
    mnt, inputs = os.path.join(work, "mnt"), os.path.join(work, "inputs.json")
    os.makedirs(mnt)
    store = Store(os.path.join(work, "store")).start()
    write_inputs(inputs, store, {"d": [("big.bin", os.urandom(SIZE))]})

    def mount(binary):
        subprocess.run([binary, "mount", "--inputs", inputs, "--api", work + "/none.json",
                        "--cache-dir", work + "/cache", "--log-level", "warn", mnt], check=True)

    def unmount():
        subprocess.run(["fusermount3", "-u", mnt], check=True)
        time.sleep(1.0)  # the daemon's last index writes

    def read_all():
        t = time.monotonic()
        with open(os.path.join(mnt, "d/big.bin"), "rb", buffering=0) as f:
            while f.read(1 << 20):
                pass
        return time.monotonic() - t

    try:
        mount(binaries[0])
        read_all()  # fills the cache
        unmount()
        times = {b: [] for b in binaries}
        for _ in range(rounds):
            for b in binaries:
                mount(b)
                subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True)
                times[b].append(read_all())
                unmount()
        for b in binaries:
            v = sorted(times[b])
            print(f"{b:40} median {v[len(v) // 2]:.3f} s   "
                  f"all {' '.join(f'{x:.2f}' for x in times[b])}")
    finally:
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        store.stop()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:], int(os.environ.get("ROUNDS", "5")))
