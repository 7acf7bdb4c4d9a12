"""The README's demo: a local object store (nginx, secure_link signed URLs) holding a sample
dataset, mounted with datumfs, then a few reads that show only the bytes read are fetched.

Usage: /usr/bin/python3 test/demo.py [path/to/datumfs]"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
from store import Store, write_inputs  # noqa: E402

MiB = 1 << 20


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def main():
    datumfs = sys.argv[1] if len(sys.argv) > 1 else "build/src/datumfs"
    work = tempfile.mkdtemp(prefix="datumfs-demo-")
    store = Store(os.path.join(work, "store")).start()
    mnt = os.path.join(work, "inputs")
    os.makedirs(mnt)
    try:
        print(f"== a store on 127.0.0.1:{store.port} with a 512 MiB file and a few small ones")
        big = os.urandom(MiB) * 512  # 512 MiB; repeating blocks keep the demo fast to make
        files = {
            "dataset": [
                ("shards/train-000.bin", big),
                ("labels.csv", b"id,label\n" + b"".join(b"%d,dog\n" % i for i in range(1000))),
                ("images/000201.jpg", os.urandom(180_000)),
                ("images/000202.jpg", os.urandom(210_000)),
            ]
        }
        inputs = os.path.join(work, "inputs.json")
        write_inputs(inputs, store, files)
        print(f"== datumfs mount --inputs {inputs} {mnt}")
        t0 = time.time()
        subprocess.run([datumfs, "mount", "--inputs", inputs, "--api", os.path.join(work, "none"),
                        "--cache-dir", os.path.join(work, "cache"), mnt], check=True)
        print(f"   mounted in {time.time() - t0:.2f} s, nothing downloaded yet "
              f"({len(store.requests())} requests to the store)")
        print("== ls -lR")
        subprocess.run(["ls", "-lR", mnt], check=True)
        mark = store.mark()
        read = 0
        with open(os.path.join(mnt, "dataset/shards/train-000.bin"), "rb") as f:
            f.seek(256 * MiB)
            chunk = f.read(8192)
            read += len(chunk)
            assert chunk == big[256 * MiB:256 * MiB + 8192]
        print("== read 8 KiB from the middle of the 512 MiB file: bytes match")
        with open(os.path.join(mnt, "dataset/labels.csv"), "rb") as f:
            labels = f.read()
            read += len(labels)
        print(f"== read labels.csv ({len(labels)} bytes): {labels.splitlines()[1].decode()} ...")
        sent = store.bytes_sent(since=mark)
        n = len(store.requests(since=mark))
        print(f"== the program read {human(read)}; the store sent {human(sent)} in {n} requests "
              f"(of {human(len(big) + sum(len(d) for _, d in files['dataset'][1:]))} in the dataset)")
        shard = os.path.join(mnt, "dataset/shards/train-000.bin")
        cached = int(os.getxattr(shard, "user.datumfs.cached_bytes"))
        print(f"== getfattr -n user.datumfs.cached_bytes train-000.bin: {cached} "
              f"(the cache holds {human(cached)} of it)")
        print(f"== datumfs prefetch {os.path.join(mnt, 'dataset/images')}")
        subprocess.run([datumfs, "prefetch", os.path.join(mnt, "dataset/images")], check=True)
        print(f"== datumfs stats {mnt}")
        subprocess.run([datumfs, "stats", mnt], check=True)
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        store.stop()
    print("== unmounted")


if __name__ == "__main__":
    main()
