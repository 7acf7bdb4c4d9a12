"""datumfs benchmark: not a test. Prints a table of figures, and ratios against peers measured
in the same run. Run as root on Debian 12:

    bash .ci/install-deps && apt-get install -y aria2 rclone libnginx-mod-http-lua sqlite3
    meson setup build && meson compile -C build
    /usr/bin/python3 test/bench/bench.py build/src/datumfs [--quick] [--tls]
        [--proto http,https,h2] [--rows seq,small,...]

The store is nginx in a network namespace of its own, reached over a veth pair. This kernel
has no netem, no fq and no tc flow classifier, so: latency is added inside nginx (lua: every
response waits 20 ms, one round trip at 10 ms each way); each connection (TCP flow, not
request) is capped at 100 MB/s from its first byte by TCP's own pacing (SO_MAX_PACING_RATE on
nginx's listening sockets, which this script opens and hands to nginx, and which every
accepted connection inherits); the veth link itself is not capped. Peers over the
same URLs: curl (one stream), aria2c -x8 -s8, rclone mount --vfs-cache-mode full, and the
same reads on local disk. Row stop: a reader that reads the first 1 or 50 MiB of the big file
and closes it, for what the store sent (issue 14: at most 1.3 N + 2 MiB). Two whole jobs (rows tar and loader: `tar -c` of the small files, and
16 workers reading a training set in a shuffled order; row torch: a PyTorch DataLoader with 8
worker processes over it, shuffled, when python3-torch is installed) also run after "aria2c -j16 first":
downloading every file, then reading locally, which is what a job does without datumfs; the
loader also runs on a mount with --download all. Row sitecache (HTTP only): four "hosts" (mounts
with caches of their own) read the first GiB of the big file at once, cold, straight from the
store and then through one site cache node (nginx running packaging/site-cache/), side by side. Columns: seconds, bytes the store sent, requests, connections,
amplification (bytes sent / bytes the program read), and CPU seconds per GiB read on the
client (the tool's processes and the reading program) and on the store (nginx).

Protocols (--proto; --tls is --proto https): http; https (TLS 1.3 with a certificate from a CA
this run makes with openssl, HTTP/1.1 only); h2 (the same, with nginx offering HTTP/2, which
curl, libcurl and rclone then use). Listing several runs every selected row over each, in one
run, so ratios compare like with like."""

import argparse
import collections
import hashlib
import importlib
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from tls import Certs  # noqa: E402  (the integration tests' openssl CA)
from site_cache import SiteCache, log_entries  # noqa: E402  (the shipped site cache configuration)

MiB = 1 << 20
GiB = 1 << 30
NS = "dfbench"
HOST_IP, NS_IP = "10.77.0.1", "10.77.0.2"
PORTS = {"http": 8080, "https": 8443, "h2": 8444}
ROWS = ("seq", "random", "stop", "find", "mid", "small", "sqlite", "zip", "tar", "loader",
        "torch", "sitecache")
LOG_FORMAT = '$request_method $uri $status $body_bytes_sent $connection "$http_range"'
RATE = 100_000_000  # bytes a second, each connection

LOCATION = """
    location /data/ {{
      root {dir}/root;
      autoindex on;
      access_by_lua_block {{ ngx.sleep(0.020) }}
    }}
"""
TLS = """
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:bench:10m;
"""

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
  server {{ listen {ip}:{http}; {location} }}
  server {{ listen {ip}:{https} ssl; {tls} {location} }}
  server {{ listen {ip}:{h2} ssl http2; {tls} {location} }}
}}
"""


# Run in the namespace: opens nginx's listening sockets with SO_MAX_PACING_RATE (47; socket has
# no name for it), which accepted connections inherit, so TCP paces each connection's sending
# to RATE (internal pacing: no fq needed) from its first segment. nginx takes them as inherited
# sockets (the NGINX variable of its binary upgrade) when the configuration listens on the same
# addresses. A per-connection cap in tc would need a class per flow: this kernel has no flow
# classifier, and htb takes a minute to add a class for each of 28,000 client ports.
LISTEN = """
import os, socket, sys
ip, ports, rate, *nginx = sys.argv[1:]
fds = []
for port in ports.split(","):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, 47, int(rate))
    s.bind((ip, int(port)))
    s.listen(511)
    s.setblocking(False)  # nginx sets it on sockets it opens, not on inherited ones
    s.set_inheritable(True)
    fds.append(str(s.detach()))
os.execvpe(nginx[0], nginx, dict(os.environ, NGINX=";".join(fds) + ";"))
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


class Store:
    """nginx in its own network namespace, reached over a veth; connections capped by LISTEN."""

    def __init__(self, directory):
        self.dir = directory
        self.root = os.path.join(directory, "root", "data")
        os.makedirs(self.root, exist_ok=True)
        self.proc = None
        self.certs = Certs(os.path.join(directory, "certs"), more_ips=(NS_IP,))

    def start(self):
        self.stop_network()
        sh(f"ip netns add {NS}")
        sh("ip link add dfb0 type veth peer name dfb1")
        sh(f"ip link set dfb1 netns {NS}")
        sh(f"ip addr add {HOST_IP}/24 dev dfb0 && ip link set dfb0 up")
        sh(f"ip netns exec {NS} sh -c 'ip addr add {NS_IP}/24 dev dfb1 && ip link set dfb1 up"
           f" && ip link set lo up'")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            cert, key = self.certs.good
            f.write(NGINX_CONF.format(
                dir=self.dir, ip=NS_IP, log_format=LOG_FORMAT, **PORTS,
                location=LOCATION.format(dir=self.dir), tls=TLS.format(cert=cert, key=key)))
        ports = ",".join(str(port) for port in PORTS.values())
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-c", LISTEN,
                                      NS_IP, ports, str(RATE), "nginx", "-c", conf,
                                      "-p", self.dir, "-e", os.path.join(self.dir, "error.log")])
        for port in PORTS.values():
            for _ in range(100):
                try:
                    socket.create_connection((NS_IP, port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError(open(os.path.join(self.dir, "error.log")).read())
        return self

    def stop_network(self):
        subprocess.run(f"ip netns del {NS}", shell=True, stderr=subprocess.DEVNULL)
        subprocess.run("ip link del dfb0", shell=True, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
        self.stop_network()

    def url(self, key, proto):
        scheme = "http" if proto == "http" else "https"
        return f"{scheme}://{NS_IP}:{PORTS[proto]}/data/{key}"

    def cpu_seconds(self):
        """CPU time of nginx's worker processes so far."""
        return sum(cpu_seconds(pid) for pid in children(self.proc.pid))

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
        """(requests, body bytes sent, connections used) since mark."""
        time.sleep(0.3)
        with open(os.path.join(self.dir, "access.log")) as f:
            f.seek(mark)
            lines = [line.split() for line in f.read().splitlines()]
        return (len(lines), sum(int(fields[3]) for fields in lines),
                len({fields[4] for fields in lines}))


def cpu_seconds(pid):
    """utime + stime of a live process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(parent):
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def pids_serving(mountpoint):
    """Processes with `mountpoint` among their arguments (a detached datumfs daemon)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if mountpoint.encode() in f.read().split(b"\0")[1:]:
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def write_inputs(path, store, proto, input_name, keys_sizes):
    import json
    files = []
    for i, (key, size) in enumerate(keys_sizes):
        datum = hashlib.sha1(key.encode()).hexdigest()
        files.append({"datum_id": datum, "download_intent": "on-demand",
                      "input_id": "bench", "name": key.split("/", 1)[1], "path": "",
                      "size": size, "storage_uri": store.url(key, proto),
                      "uri": "s3://bench/" + key,
                      "metadata": []})
    with open(path, "w") as f:
        json.dump({input_name: {"input_id": "bench", "files": files}}, f)


def drop_caches():
    sh("sync; echo 3 > /proc/sys/vm/drop_caches")


class Result:
    def __init__(self, name, proto, seconds, requests=0, sent=0, read=0, connections=0,
                 cpu=0.0, server_cpu=0.0):
        self.name, self.proto, self.seconds, self.requests, self.sent, self.read = (
            name, proto, seconds, requests, sent, read)
        self.connections, self.cpu, self.server_cpu = connections, cpu, server_cpu

    def amplification(self):
        return self.sent / self.read if self.read else 0.0

    def cpu_per_gib(self, seconds):
        return seconds / (self.read / GiB) if self.read else 0.0


class ClientCpu:
    """CPU time of the reading program (this process), of the commands it ran to the end
    (curl, aria2c) and of long-running tool processes (a datumfs or rclone daemon)."""

    def __init__(self, daemon_pids):
        self.daemon_pids = daemon_pids

    def now(self):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (time.process_time() + children.ru_utime + children.ru_stime +
                sum(cpu_seconds(pid) for pid in self.daemon_pids()))


def measure(store, name, proto, fn, daemon_pids=list):
    mark = store.mark()
    cpu = ClientCpu(daemon_pids)
    cpu0, server0 = cpu.now(), store.cpu_seconds()
    t0 = time.monotonic()
    read = fn()
    seconds = time.monotonic() - t0
    cpu1, server1 = cpu.now(), store.cpu_seconds()
    requests, sent, connections = store.since(mark)
    return Result(name, proto, seconds, requests, sent, read, connections, cpu1 - cpu0,
                  server1 - server0)


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

    def __init__(self, kind, datumfs, store, proto, inputs, work, name, args=()):
        self.kind, self.datumfs, self.store, self.proto = kind, datumfs, store, proto
        self.inputs, self.args = inputs, " ".join(args)
        self.point = os.path.join(work, f"mnt-{kind}-{name}-{proto}")
        self.cache = os.path.join(work, f"cache-{kind}-{name}-{proto}")
        os.makedirs(self.point, exist_ok=True)

    def __enter__(self):
        ca = self.store.certs.ca
        if self.kind == "datumfs":
            sh(f"{self.datumfs} mount --inputs {self.inputs} --api /nonexistent "
               f"--cache-dir {self.cache} --ca-file {ca} {self.args} {self.point}",
               stderr=subprocess.DEVNULL)
        else:
            self.proc = subprocess.Popen(["rclone", "mount", ":http:", self.point, "--http-url",
                              self.store.url("", self.proto), "--ca-cert", ca,
                              "--vfs-cache-mode", "full", "--read-only",
                              "--cache-dir", self.cache, "--dir-cache-time", "1h"],
                             stderr=subprocess.DEVNULL)
            for _ in range(200):
                if os.path.ismount(self.point):
                    break
                time.sleep(0.05)
        return self

    def daemon_pids(self):
        return pids_serving(self.point) if self.kind == "datumfs" else [self.proc.pid]

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


def curl_ranges(store, proto, key, offsets, work):
    cfg = os.path.join(work, "curl-ranges.cfg")
    with open(cfg, "w") as f:
        for i, off in enumerate(offsets):
            if i:
                f.write("next\n")
            # Every block its own cacert: "next" resets the options given before it.
            f.write(f'url = "{store.url(key, proto)}"\nrange = {off}-{off + 4095}\n'
                    f'output = "/dev/null"\ncacert = "{store.certs.ca}"\n')
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
    # A training set for the data loader row: an input of its own, so that --download of it
    # is the download of just these.
    loader = []
    for i in range(500 if quick else 2000):
        key = f"dl/{i:05d}.bin"
        store.put(key, rng.randbytes(100 * 1024))
        loader.append((key, 100 * 1024))
    inputs, loader_inputs = {}, {}
    for proto in PORTS:
        inputs[proto] = os.path.join(work, f"inputs-{proto}.json")
        write_inputs(inputs[proto], store, proto, "d", files)
        loader_inputs[proto] = os.path.join(work, f"inputs-dl-{proto}.json")
        write_inputs(loader_inputs[proto], store, proto, "dl", loader)
    return {"big": big, "small": small, "mid": mid, "rows": rows, "inputs": inputs,
            "loader": loader, "loader_inputs": loader_inputs}


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


def tar_size(root, subdir):
    """`tar -c` of a directory into a pipe (GNU tar reads nothing when it writes /dev/null)."""
    out = subprocess.run(f"tar -cf - -C {root} {subdir} | wc -c", shell=True, check=True,
                         capture_output=True, text=True).stdout
    return int(out)


def download_first(store, proto, keys, work, then):
    """What a job does without datumfs: aria2c -j16 fetches every file, then `then` reads
    them from local disk (its argument: the directory they are in, laid out like the store)."""
    dest = os.path.join(work, "download-first")
    shutil.rmtree(dest, ignore_errors=True)
    listing = os.path.join(work, "aria2c-input.txt")
    with open(listing, "w") as f:
        for key in keys:
            f.write(f"{store.url(key, proto)}\n  out={key}\n")
    sh(f"aria2c -q -j16 -x1 --ca-certificate={store.certs.ca} --allow-overwrite=true "
       f"-d {dest} -i {listing}")
    return then(dest)


def read_prefix(path, size, chunk=1 * MiB):
    n = 0
    with open(path, "rb", buffering=0) as f:
        while n < size and (b := f.read(min(chunk, size - n))):
            n += len(b)
    return n


def parallel_read(paths, threads=16):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(read_file, paths))


def torch_loader(paths, workers=8):
    """A PyTorch DataLoader (Debian's python3-torch) over the files, shuffled, 8 worker
    processes: bytes read."""
    import warnings

    import torch
    import torch.utils.data as tud
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")

    class Files(tud.Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return read_file(paths[i])

    order = torch.Generator()
    order.manual_seed(7)
    loader = tud.DataLoader(Files(), batch_size=None, shuffle=True, num_workers=workers,
                            generator=order)
    return sum(int(n) for n in loader)


def have_torch():
    try:
        importlib.import_module("torch")  # here, before any timing: it takes seconds
        return True
    except ImportError:
        print("row torch skipped: no python3-torch (apt-get install python3-torch)")
        return False


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


class Bench:
    """The selected rows over one protocol after another; results gathered for the ratios."""

    def __init__(self, datumfs, store, data, work, rows):
        self.datumfs, self.store, self.d, self.work, self.rows = datumfs, store, data, work, rows
        self.local = store.root  # the same files on local disk
        rng = random.Random(5)
        self.offsets = [rng.randrange(0, data["big"] // 4096) * 4096 for _ in range(100)]
        self.ids = [rng.randrange(0, data["rows"]) for _ in range(20)]
        self.results = []  # (workload, Result)

    def add(self, workload, name, proto, fn, daemon_pids=list, before=drop_caches):
        if before:
            before()
        r = measure(self.store, name, proto, fn, daemon_pids)
        self.results.append((workload, r))
        print(f"{workload:28} {proto:5} {name:18} {r.seconds:8.3f} s  {r.requests:6} req "
              f"{r.connections:5} conn {r.sent / MiB:9.1f} MiB sent  amp "
              f"{r.amplification():7.2f}  cpu {r.cpu:6.2f} s  nginx {r.server_cpu:6.2f} s",
              flush=True)

    def mount(self, kind, proto, name):
        return Mount(kind, self.datumfs, self.store, proto, self.d["inputs"][proto], self.work,
                     name)

    def run(self, protos):
        for i, proto in enumerate(protos):
            first = i == 0  # warm and local disk rows do not touch the store: once is enough
            if "seq" in self.rows:
                self.sequential(proto, first)
            if "random" in self.rows:
                self.random(proto, first)
            if "stop" in self.rows:
                self.stop_early(proto)
            self.files(proto, first)
            self.jobs(proto, first)
            if "sitecache" in self.rows and proto == "http":
                self.site_cache(proto)

    def sequential(self, proto, first):
        d, store = self.d, self.store
        seq = f"{d['big'] // MiB} MiB sequential"
        dl = os.path.join(self.work, "dl")
        os.makedirs(dl, exist_ok=True)
        url, ca = store.url("d/big.bin", proto), store.certs.ca
        self.add(seq + " cold", "curl (1 stream)", proto,
                 lambda: (sh(f"curl -s --cacert {ca} -o {dl}/curl.bin {url}"), d["big"])[1])
        self.add(seq + " cold", "aria2c -x8 -s8", proto,
                 lambda: (sh(f"aria2c -q -x8 -s8 -k1M --allow-overwrite=true "
                             f"--ca-certificate={ca} -d {dl} -o aria.bin {url}"), d["big"])[1])
        if first:
            self.add(seq, "local disk", proto, lambda: read_file(f"{self.local}/d/big.bin"))
        for kind in ("datumfs", "rclone"):
            with self.mount(kind, proto, "seq") as m:
                self.add(seq + " cold", kind, proto, lambda: read_file(m.path("d/big.bin")),
                         m.daemon_pids)
                if first:
                    m.remount()
                    self.add(seq + " warm", kind, proto, lambda: read_file(m.path("d/big.bin")),
                             m.daemon_pids)

    def random(self, proto, first):
        rnd, offsets = "100 random 4 KiB reads", self.offsets
        self.add(rnd + " cold", "curl ranged GETs", proto,
                 lambda: curl_ranges(self.store, proto, "d/big.bin", offsets, self.work))
        if first:
            self.add(rnd, "local disk", proto,
                     lambda: random_reads(f"{self.local}/d/big.bin", offsets))
        for kind in ("datumfs", "rclone"):
            with self.mount(kind, proto, "rnd") as m:
                self.add(rnd + " cold", kind, proto,
                         lambda: random_reads(m.path("d/big.bin"), offsets), m.daemon_pids)
                if first:
                    m.remount()
                    self.add(rnd + " warm", kind, proto,
                             lambda: random_reads(m.path("d/big.bin"), offsets), m.daemon_pids)

    def stop_early(self, proto):
        """A sequential reader that reads the first N MiB of the big file and closes it (`head
        -c`), each on a fresh mount: what the store sent, read-ahead in flight at the close
        included (the row's seconds include a 2 s wait for it to land)."""
        for n in (1, 50):
            def head():
                with open(m.path("d/big.bin"), "rb", buffering=0) as f:
                    got = sum(len(f.read(128 * 1024)) for _ in range(n * 8))
                time.sleep(2)
                return got
            with self.mount("datumfs", proto, f"stop{n}") as m:
                self.add(f"stop after {n} MiB", "datumfs", proto, head, m.daemon_pids)

    def jobs(self, proto, first):
        """Whole jobs, each on a fresh mount: tar of a directory of small files, and a data
        loader (16 workers, shuffled order); against downloading everything first."""
        d, store = self.d, self.store
        smalls = [k for k, _ in d["small"]]
        loader = [k for k, _ in d["loader"]]
        shuffled = random.Random(7).sample(loader, len(loader))
        rows = []
        if "tar" in self.rows:
            rows.append((f"tar of {len(smalls)} x 4 KiB files", smalls,
                         lambda root: min(tar_size(root, "d/small"), 4096 * len(smalls)),
                         d["inputs"], []))
        if "loader" in self.rows:
            job = (lambda root: parallel_read([f"{root}/{k}" for k in shuffled]))
            rows.append((f"loader: 16 workers, shuffled {len(loader)} x 100 KiB", loader, job,
                         d["loader_inputs"], ["--download", "all"]))
        if "torch" in self.rows and have_torch():
            job = (lambda root: torch_loader([f"{root}/{k}" for k in loader]))
            rows.append((f"PyTorch DataLoader: 8 workers, shuffled {len(loader)} x 100 KiB",
                         loader, job, d["loader_inputs"], ["--download", "all"]))
        for n, (workload, keys, fn, inputs, download) in enumerate(rows):  # a cache each
            if first:
                self.add(workload, "local disk", proto, lambda: fn(self.local))
            self.add(workload, "aria2c -j16 first", proto,
                     lambda: download_first(store, proto, keys, self.work, fn))
            with Mount("datumfs", self.datumfs, store, proto, inputs[proto], self.work,
                       f"job{n}") as m:
                self.add(workload, "datumfs", proto, lambda: fn(m.point), m.daemon_pids)
            if download:
                with Mount("datumfs", self.datumfs, store, proto, inputs[proto], self.work,
                           f"job{n}-dl", args=download) as m:
                    self.add(workload, "datumfs --download", proto, lambda: fn(m.point),
                             m.daemon_pids)

    def site_cache(self, proto):
        """Four "hosts" (mounts with caches of their own) read the first GiB of the big file at
        once, cold: straight from the store, then through one site cache node (nginx with the
        shipped packaging/site-cache/ configuration, on this side of the link, its cache on
        local disk, cold). Plain HTTP only: nginx 1.22 cannot verify a certificate for an IP
        address, and the store is one."""
        size = min(self.d["big"], GiB)
        workload = f"{size // MiB} MiB cold, 4 hosts"
        node = SiteCache(os.path.join(self.work, "site-cache"), origins=(f"{NS_IP} 1;",))
        node.start()
        try:
            for name, args in (("datumfs direct", ()),
                               ("datumfs site cache", ("--site-cache",
                                                       f"http://127.0.0.1:{node.port}"))):
                hosts = [Mount("datumfs", self.datumfs, self.store, proto,
                               self.d["inputs"][proto], self.work,
                               f"host{h}-{len(args)}", args) for h in range(4)]
                for m in hosts:
                    m.__enter__()
                try:
                    self.add(workload, name, proto, lambda: self.read_hosts(hosts, size),
                             lambda: [p for m in hosts for p in m.daemon_pids()])
                finally:
                    for m in hosts:
                        m.__exit__()
            entries = log_entries(node.log())
            statuses = collections.Counter((status, cached) for _, status, _, _, cached in entries)
            print(f"{'':28} site cache node: {len(entries)} requests, "
                  f"{sum(e[2] for e in entries) / MiB:.1f} MiB sent, by (status, cache): "
                  f"{dict(statuses)}", flush=True)
        finally:
            node.stop()

    @staticmethod
    def read_hosts(hosts, size):
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
            return sum(pool.map(lambda m: read_prefix(m.path("d/big.bin"), size), hosts))

    def files(self, proto, first):
        """find, many files, sqlite and zip: one mount (a cold cache) for all of them."""
        d, ids = self.d, self.ids
        mids = [k for k, _ in d["mid"]]
        smalls = [k for k, _ in d["small"]]
        rows = {
            "find": (f"find over {len(smalls) + len(mids) + 3} files",
                     lambda root: count_files(f"{root}/d")),
            "mid": (f"{len(mids)} x 1 MiB files in order",
                    lambda root: sum(read_file(f"{root}/{k}") for k in mids)),
            "small": (f"{len(smalls)} x 4 KiB, 16 readers",
                      lambda root: parallel_read([f"{root}/{k}" for k in smalls])),
            "sqlite": ("sqlite: 20 point queries",
                       lambda root: sqlite_query(f"{root}/d/db.sqlite", ids)),
            "zip": ("zip: list + extract 1",
                    lambda root: zip_list_and_extract(f"{root}/d/archive.zip")),
        }
        chosen = [(w, fn) for row, (w, fn) in rows.items() if row in self.rows]
        if not chosen:
            return
        if first:
            for workload, fn in chosen:
                self.add(workload, "local disk", proto, lambda: fn(self.local))
        for kind in ("datumfs", "rclone"):
            with self.mount(kind, proto, "files") as m:
                for workload, fn in chosen:
                    self.add(workload, kind, proto, lambda: fn(m.point), m.daemon_pids)


def run(datumfs, quick, protos, rows):
    work = tempfile.mkdtemp(prefix="datumfs-bench-", dir="/var/tmp")
    store = Store(os.path.join(work, "store")).start()
    try:
        bench = Bench(datumfs, store, make_data(store, work, quick), work, rows)
        bench.run(protos)
    finally:
        store.stop()
        subprocess.run(f"umount -l {work}/mnt-* 2>/dev/null", shell=True)
        shutil.rmtree(work, ignore_errors=True)
    print_ratios(bench.results)


def print_ratios(results):
    print("\n== datumfs against its peers (time ratio: peer / datumfs; > 1 means datumfs is "
          "faster); client CPU seconds per GiB read")
    by = {}
    for workload, r in results:
        by.setdefault(workload.replace(" cold", "").replace(" warm", ""), []).append((workload, r))
    for base, rows in by.items():
        ours = [(w, r) for w, r in rows if r.name == "datumfs"]
        for w, r in ours:
            # The same workload and protocol (cold against cold, warm against warm), and local
            # disk.
            peers = [p for pw, p in rows if p.name != "datumfs" and
                     ((pw == w and p.proto == r.proto) or p.name == "local disk")]
            ratio = ", ".join(f"{p.name} {p.seconds / r.seconds:.2f}x "
                              f"({p.cpu_per_gib(p.cpu):.1f} CPU s/GiB)" for p in peers
                              if r.seconds > 0)
            print(f"{w:34} {r.proto:5} datumfs {r.seconds:7.3f} s, amp "
                  f"{r.amplification():5.2f}, {r.requests} req, {r.connections} conn, "
                  f"{r.cpu_per_gib(r.cpu):.1f} CPU s/GiB | {ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datumfs", nargs="?", default="build/src/datumfs")
    ap.add_argument("--quick", action="store_true", help="smaller data (a minute, not ten)")
    ap.add_argument("--tls", action="store_true", help="every row over HTTPS (--proto https)")
    ap.add_argument("--proto", default=None,
                    help="protocols to run the rows over, in order: http, https, h2 "
                         "(default http)")
    ap.add_argument("--rows", default=",".join(ROWS),
                    help=f"which rows (default all): {', '.join(ROWS)}")
    args = ap.parse_args()
    protos = (args.proto or ("https" if args.tls else "http")).split(",")
    rows = args.rows.split(",")
    for name, given, known in (("protocol", protos, PORTS), ("row", rows, ROWS)):
        if unknown := [x for x in given if x not in known]:
            sys.exit(f"bench.py: unknown {name} {', '.join(unknown)} (known: {', '.join(known)})")
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (network namespace, mounts, drop_caches)")
    for tool in ("curl", "aria2c", "rclone", "nginx", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} is not installed (see the docstring)")
    run(os.path.abspath(args.datumfs), args.quick, protos, rows)


if __name__ == "__main__":
    main()
