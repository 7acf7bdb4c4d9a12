"""datumfs benchmark: not a test. Prints a table of figures, and ratios against peers measured
in the same run. Run as root on Debian 12:

    bash .ci/install-deps && apt-get install -y aria2 rclone libnginx-mod-http-lua sqlite3
    meson setup build && meson compile -C build
    /usr/bin/python3 test/bench/bench.py build/src/datumfs [--quick]

The store is nginx in a network namespace of its own, reached over a veth pair. This kernel
has no netem and no fq, so: latency is added inside nginx (lua: every response waits 20 ms,
one round trip at 10 ms each way); each connection is capped at 100 MB/s by nginx's
limit_rate; the veth link itself is capped by tc htb (2.5 Gbit/s, a fast NIC). Peers over the
same URLs: curl (one stream), aria2c -x8 -s8, rclone mount --vfs-cache-mode full, and the
same reads on local disk. Columns: seconds, bytes the store sent, requests, amplification
(bytes sent / bytes the program read)."""

import argparse
import hashlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile

MiB = 1 << 20
NS = "dfbench"
HOST_IP, NS_IP = "10.77.0.1", "10.77.0.2"
PORT = 8080
LOG_FORMAT = '$request_method $uri $status $body_bytes_sent "$http_range"'

NGINX_CONF = """
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
worker_processes 2;
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format bench '{log_format}';
  access_log {dir}/access.log bench;
  sendfile on;
  keepalive_requests 100000;
  server {{
    listen {ip}:{port};
    location /data/ {{
      root {dir}/root;
      autoindex on;
      limit_rate 100m;
      access_by_lua_block {{ ngx.sleep(0.020) }}
    }}
  }}
}}
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


class Store:
    """nginx in its own network namespace, reached over a capped veth."""

    def __init__(self, directory):
        self.dir = directory
        self.root = os.path.join(directory, "root", "data")
        os.makedirs(self.root, exist_ok=True)
        self.proc = None

    def start(self):
        self.stop_network()
        sh(f"ip netns add {NS}")
        sh(f"ip link add dfb0 type veth peer name dfb1")
        sh(f"ip link set dfb1 netns {NS}")
        sh(f"ip addr add {HOST_IP}/24 dev dfb0 && ip link set dfb0 up")
        sh(f"ip netns exec {NS} sh -c 'ip addr add {NS_IP}/24 dev dfb1 && ip link set dfb1 up"
           f" && ip link set lo up'")
        for dev, ns in (("dfb0", ""), ("dfb1", f"ip netns exec {NS} ")):
            sh(f"{ns}tc qdisc add dev {dev} root handle 1: htb default 10")
            sh(f"{ns}tc class add dev {dev} parent 1: classid 1:10 htb rate 2500mbit quantum 200000")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, ip=NS_IP, port=PORT, log_format=LOG_FORMAT))
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS, "nginx", "-c", conf,
                                      "-p", self.dir])
        for _ in range(100):
            try:
                socket.create_connection((NS_IP, PORT), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(open(os.path.join(self.dir, "error.log")).read())

    def stop_network(self):
        subprocess.run(f"ip netns del {NS}", shell=True, stderr=subprocess.DEVNULL)
        subprocess.run("ip link del dfb0", shell=True, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
        self.stop_network()

    def url(self, key):
        return f"http://{NS_IP}:{PORT}/data/{key}"

    def put(self, key, data=None, path=None):
        dest = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if path:
            shutil.copyfile(path, dest)
        else:
            with open(dest, "wb") as f:
                f.write(data)

    def mark(self):
        time.sleep(0.3)  # nginx logs after the response
        try:
            return os.path.getsize(os.path.join(self.dir, "access.log"))
        except FileNotFoundError:
            return 0

    def since(self, mark):
        """(requests, body bytes sent) since mark."""
        time.sleep(0.3)
        with open(os.path.join(self.dir, "access.log")) as f:
            f.seek(mark)
            lines = f.read().splitlines()
        return len(lines), sum(int(line.split()[3]) for line in lines)


def write_inputs(path, store, input_name, keys_sizes):
    import json
    files = []
    for i, (key, size) in enumerate(keys_sizes):
        datum = hashlib.sha1(key.encode()).hexdigest()
        files.append({"datum_id": datum, "download_intent": "on-demand",
                      "input_id": "bench", "name": key.split("/", 1)[1], "path": "",
                      "size": size, "storage_uri": store.url(key), "uri": "s3://bench/" + key,
                      "metadata": []})
    with open(path, "w") as f:
        json.dump({input_name: {"input_id": "bench", "files": files}}, f)


def drop_caches():
    sh("sync; echo 3 > /proc/sys/vm/drop_caches")


class Result:
    def __init__(self, name, seconds, requests=0, sent=0, read=0):
        self.name, self.seconds, self.requests, self.sent, self.read = (
            name, seconds, requests, sent, read)

    def amplification(self):
        return self.sent / self.read if self.read else 0.0


def measure(store, name, fn):
    mark = store.mark()
    t0 = time.monotonic()
    read = fn()
    seconds = time.monotonic() - t0
    requests, sent = store.since(mark)
    return Result(name, seconds, requests, sent, read)


def read_file(path, chunk=1 * MiB):
    n = 0
    with open(path, "rb", buffering=0) as f:
        while b := f.read(chunk):
            n += len(b)
    return n


def random_reads(path, offsets):
    fd = os.open(path, os.O_RDONLY)
    try:
        for off in offsets:
            assert len(os.pread(fd, 4096, off)) == 4096
    finally:
        os.close(fd)
    return 4096 * len(offsets)


class Mount:
    """datumfs or rclone mounted over the store; a fresh cache each time unless kept."""

    def __init__(self, kind, datumfs, store, inputs, work, name):
        self.kind, self.datumfs, self.store, self.inputs = kind, datumfs, store, inputs
        self.point = os.path.join(work, f"mnt-{kind}-{name}")
        self.cache = os.path.join(work, f"cache-{kind}-{name}")
        os.makedirs(self.point, exist_ok=True)

    def __enter__(self):
        if self.kind == "datumfs":
            sh(f"{self.datumfs} mount --inputs {self.inputs} --api /nonexistent "
               f"--cache-dir {self.cache} {self.point}", stderr=subprocess.DEVNULL)
        else:
            self.proc = subprocess.Popen(["rclone", "mount", ":http:", self.point, "--http-url",
                              self.store.url(""), "--vfs-cache-mode", "full", "--read-only",
                              "--cache-dir", self.cache, "--dir-cache-time", "1h"],
                             stderr=subprocess.DEVNULL)
            for _ in range(200):
                if os.path.ismount(self.point):
                    break
                time.sleep(0.05)
        return self

    def path(self, key):
        # datumfs: <input>/<name>; rclone: the store's own layout under /data/.
        return os.path.join(self.point, key)

    def __exit__(self, *exc):
        subprocess.run(["fusermount3", "-u", self.point], stderr=subprocess.DEVNULL)
        for _ in range(100):
            if not os.path.ismount(self.point):
                break
            time.sleep(0.05)
        if self.kind == "rclone":  # it may go on downloading into its cache: end it
            self.proc.terminate()
            self.proc.wait()

    def remount(self):
        self.__exit__()
        drop_caches()
        return self.__enter__()


def curl_ranges(store, key, offsets, work):
    cfg = os.path.join(work, "curl-ranges.cfg")
    with open(cfg, "w") as f:
        for i, off in enumerate(offsets):
            if i:
                f.write("next\n")
            f.write(f'url = "{store.url(key)}"\nrange = {off}-{off + 4095}\n'
                    f'output = "/dev/null"\n')
    sh(f"curl -s -K {cfg}")
    return 4096 * len(offsets)


def make_data(store, work, quick):
    print("== making the data set in the store", flush=True)
    big = (512 if quick else 2048) * MiB
    with open(os.path.join(work, "big.bin"), "wb") as f:
        block = os.urandom(64 * MiB)
        for i in range(big // len(block)):
            f.write(hashlib.sha256(bytes([i])).digest() + block[32:])
    store.put("d/big.bin", path=os.path.join(work, "big.bin"))
    n_small = 2000 if quick else 20000
    rng = random.Random(1)
    small = []
    for i in range(n_small):
        key = f"d/small/{i // 100:03d}/{i:05d}.bin"
        store.put(key, rng.randbytes(4096))
        small.append((key, 4096))
    mid = []
    for i in range(100 if quick else 1000):
        key = f"d/mid/{i:04d}.bin"
        store.put(key, rng.randbytes(MiB))
        mid.append((key, MiB))
    db = os.path.join(work, "db.sqlite")
    con = sqlite3.connect(db)
    con.execute("create table t (id integer primary key, payload blob)")
    rows = (50 if quick else 500) * 1000
    con.executemany("insert into t values (?, ?)", ((i, rng.randbytes(1000)) for i in range(rows)))
    con.commit()
    con.close()
    store.put("d/db.sqlite", path=db)
    z = os.path.join(work, "archive.zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        for i in range(64 if quick else 256):
            zf.writestr(f"member-{i:03d}.bin", block[:4 * MiB] + bytes([i % 256]) * 16)
    store.put("d/archive.zip", path=z)
    files = [("d/big.bin", big), ("d/db.sqlite", os.path.getsize(db)),
             ("d/archive.zip", os.path.getsize(z))] + small + mid
    inputs = os.path.join(work, "inputs.json")
    write_inputs(inputs, store, "d", files)
    return {"big": big, "small": small, "mid": mid, "rows": rows, "inputs": inputs}


def sqlite_query(path, ids):
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    n = 0
    for i in ids:
        (payload,) = con.execute("select payload from t where id = ?", (i,)).fetchone()
        n += len(payload)
    con.close()
    return n


def zip_list_and_extract(path):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        data = zf.read(names[len(names) // 2])
    return len(data)


def parallel_read(paths, threads=16):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(read_file, paths))


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


def run(datumfs, quick):
    work = tempfile.mkdtemp(prefix="datumfs-bench-", dir="/var/tmp")
    store = Store(os.path.join(work, "store")).start()
    results = []  # (workload, Result)
    try:
        d = make_data(store, work, quick)
        local = store.root  # the same files on local disk
        rng = random.Random(5)
        offsets = [rng.randrange(0, d["big"] // 4096) * 4096 for _ in range(100)]
        ids = [rng.randrange(0, d["rows"]) for _ in range(20)]

        def add(workload, name, fn, before=drop_caches):
            if before:
                before()
            r = measure(store, name, fn)
            results.append((workload, r))
            print(f"{workload:28} {name:22} {r.seconds:8.3f} s  {r.requests:6} req  "
                  f"{r.sent / MiB:9.1f} MiB sent  amp {r.amplification():7.2f}", flush=True)

        seq = f"{d['big'] // MiB} MiB sequential"
        dl = os.path.join(work, "dl")
        os.makedirs(dl, exist_ok=True)
        add(seq + " cold", "curl (1 stream)",
            lambda: (sh(f"curl -s -o {dl}/curl.bin {store.url('d/big.bin')}"), d["big"])[1])
        add(seq + " cold", "aria2c -x8 -s8",
            lambda: (sh(f"aria2c -q -x8 -s8 -k1M --allow-overwrite=true -d {dl} -o aria.bin "
                        f"{store.url('d/big.bin')}"), d["big"])[1])
        add(seq, "local disk", lambda: read_file(f"{local}/d/big.bin"))
        for kind in ("datumfs", "rclone"):
            with Mount(kind, datumfs, store, d["inputs"], work, "seq") as m:
                add(seq + " cold", kind, lambda: read_file(m.path("d/big.bin")))
                m.remount()
                add(seq + " warm", kind, lambda: read_file(m.path("d/big.bin")))
        rnd = "100 random 4 KiB reads"
        add(rnd + " cold", "curl ranged GETs",
            lambda: curl_ranges(store, "d/big.bin", offsets, work))
        add(rnd, "local disk", lambda: random_reads(f"{local}/d/big.bin", offsets))
        for kind in ("datumfs", "rclone"):
            with Mount(kind, datumfs, store, d["inputs"], work, "rnd") as m:
                add(rnd + " cold", kind, lambda: random_reads(m.path("d/big.bin"), offsets))
                m.remount()
                add(rnd + " warm", kind, lambda: random_reads(m.path("d/big.bin"), offsets))
        mids = [k for k, _ in d["mid"]]
        smalls = [k for k, _ in d["small"]]
        work_mid = f"{len(mids)} x 1 MiB files in order"
        work_small = f"{len(smalls)} x 4 KiB, 16 readers"
        work_find = f"find over {len(smalls) + len(mids) + 3} files"
        work_sql = "sqlite: 20 point queries"
        work_zip = "zip: list + extract 1"
        add(work_mid, "local disk", lambda: sum(read_file(f"{local}/{k}") for k in mids))
        add(work_small, "local disk", lambda: parallel_read([f"{local}/{k}" for k in smalls]))
        add(work_find, "local disk", lambda: count_files(f"{local}/d"))
        add(work_sql, "local disk", lambda: sqlite_query(f"{local}/d/db.sqlite", ids))
        add(work_zip, "local disk", lambda: zip_list_and_extract(f"{local}/d/archive.zip"))
        for kind in ("datumfs", "rclone"):
            with Mount(kind, datumfs, store, d["inputs"], work, "files") as m:
                add(work_find, kind, lambda: count_files(m.path("d")))
                add(work_mid, kind, lambda: sum(read_file(m.path(k)) for k in mids))
                add(work_small, kind, lambda: parallel_read([m.path(k) for k in smalls]))
                add(work_sql, kind, lambda: sqlite_query(m.path("d/db.sqlite"), ids))
                add(work_zip, kind, lambda: zip_list_and_extract(m.path("d/archive.zip")))
    finally:
        store.stop()
        subprocess.run(f"umount -l {work}/mnt-* 2>/dev/null", shell=True)
        shutil.rmtree(work, ignore_errors=True)
    print_ratios(results)


def print_ratios(results):
    print("\n== datumfs against its peers (time ratio: peer / datumfs; > 1 means datumfs is "
          "faster)")
    by = {}
    for workload, r in results:
        by.setdefault(workload.replace(" cold", "").replace(" warm", ""), []).append((workload, r))
    for base, rows in by.items():
        ours = [(w, r) for w, r in rows if r.name == "datumfs"]
        for w, r in ours:
            # The same workload (cold against cold, warm against warm), and local disk.
            peers = [p for pw, p in rows if p.name != "datumfs" and
                     (pw == w or p.name == "local disk")]
            ratio = ", ".join(f"{p.name} {p.seconds / r.seconds:.2f}x" for p in peers
                              if r.seconds > 0)
            print(f"{w:34} datumfs {r.seconds:7.3f} s, amp {r.amplification():5.2f}, "
                  f"{r.requests} req | {ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datumfs", nargs="?", default="build/src/datumfs")
    ap.add_argument("--quick", action="store_true", help="smaller data (a minute, not ten)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (network namespace, mounts, drop_caches)")
    for tool in ("curl", "aria2c", "rclone", "nginx", "tc"):
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} is not installed (see the docstring)")
    run(os.path.abspath(args.datumfs), args.quick)


if __name__ == "__main__":
    main()
