#!/usr/bin/python3
"""The chaos test: a seeded, time-bounded, differential test of datumfs under faults.

    /usr/bin/python3 test/chaos/chaos.py --seed N --duration S --datumfs build/src/datumfs

A real nginx store (test/integration/store.py) behind a fault proxy (fault_proxy.py; HTTPS to
the daemons, with a CA made for the run, unless --plain-http) that, per request and at random, resets, stalls, answers 5xx/429, truncates, sends a 200 error page, a
wrong Content-Range, a changed ETag or a redirect; an input_request API stand-in that sometimes
fails; two daemons sharing one cache directory on a small tmpfs; reader processes and threads
doing random open/pread/read/mmap/close/readdir/stat/getxattr on random files (empty, tiny,
odd-sized, large; nested; with and without datum ids; with short-lived URLs); bursts of the
open/pread 4 x 1 MiB/close pattern in 8 processes; `datumfs cache gc` in a loop; `kill -9` of
one daemon (then remounted); flipped bytes in the cache's data files. Daemon 1 reads through a
site cache node (--site-cache) that caches nothing but misbehaves as the store's proxy does (a
FaultProxy with site_cache=True, plain HTTP, its own seed); daemon 0 reads the store directly.

Judged: every byte any reader gets equals the bytes the test put in the store; the only allowed
failure is EIO/ETIMEDOUT (or a short read, or SIGBUS for mmap: the same failure as the kernel
reports it) within 2 x --read-timeout + 5 s; no syscall hangs; no daemon dies but the one the
test kills (and no sanitizer report in any daemon's log); `cache gc` succeeds. At the end a
clean daemon on the same cache, without faults, reads every file byte-exact, and
`datumfs cache verify` exits 0.

On failure it prints the seed, the failing ops, the last ops of the log, the events (kills,
flips, gc runs) and the tail of every daemon's log, and keeps them in the work directory.
Exit status: 0 pass, 1 failure, 2 usage or setup error."""

import argparse
import collections
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from api_standin import ApiStandIn  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402
from store import Store, write_inputs  # noqa: E402
from tls import Certs  # noqa: E402

KiB, MiB = 1 << 10, 1 << 20
WORKER = os.path.join(HERE, "chaos_worker.py")

# Per request, the chance of each fault (the rest, about 80%, are forwarded faithfully).
FAULTS = {"reset": 0.02, "status_500": 0.02, "status_503": 0.01, "throttle": 0.015,
          "stall": 0.004, "stall_short": 0.02, "truncate": 0.02, "long_body": 0.01,
          "wrong_range": 0.01, "ignore_range": 0.01, "error_page_200": 0.015,
          "changed_etag": 0.01, "redirect": 0.02}
# Per input_request call, the chance of each failure of the API stand-in.
API_FAULTS = {"status_500": 0.15, "bad_json": 0.05, "stall": 0.05}
# Reader threads' op mix (weights).
READER_MIX = {"pread": 30, "pread_burst": 10, "sequential": 6, "open_close": 12, "stat": 8,
              "listdir": 5, "missing": 2, "xattr": 3}
ALLOWED_ERRNOS = {errno.EIO, errno.ETIMEDOUT}
# During a kill -9 window the killed daemon's mountpoint is gone, then empty, then back.
KILL_WINDOW_ERRNOS = ALLOWED_ERRNOS | {errno.ENOTCONN, errno.ENOENT, errno.ECONNABORTED}


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# The dataset

def make_dataset(rng, big_mib):
    """{input: [(name, bytes)]}: empty, tiny, page-edge and odd sizes in nested directories,
    a few large files (about big_mib MiB in all), files behind short-lived URLs, and files
    without a datum id whose URLs differ only in the query (pairs of one size)."""
    small = [("empty.txt", b""), ("one.bin", rng.randbytes(1)),
             ("labels.csv", b"id,label\n" + b"".join(b"%d,%s\n" % (i, rng.choice([b"dog", b"cat"]))
                                                      for i in range(500))),
             ("a/page.bin", rng.randbytes(4096)), ("a/odd4095.bin", rng.randbytes(4095)),
             ("a/b/odd4097.bin", rng.randbytes(4097)),
             ("a/b/c/odd65537.bin", rng.randbytes(65537)),
             ("mid/one_mib_plus_3.bin", rng.randbytes(MiB + 3)),
             ("mid/three_mib_minus_1.bin", rng.randbytes(3 * MiB - 1))]
    for i in range(12):
        small.append((f"r/{i % 3}/f{i:02d}.bin", rng.randbytes(rng.randrange(1, 300 * KiB))))
    sizes = [8 * MiB + 5, 13 * MiB + 4093, 21 * MiB - 7]
    scale = big_mib / (sum(sizes) / MiB)
    big = [(f"big{i}.bin", rng.randbytes(max(MiB + 1, int(s * scale)) | 1))
           for i, s in enumerate(sizes)]
    exp = [("e/tiny.bin", rng.randbytes(5000)), ("e/two_mib.bin", rng.randbytes(2 * MiB + 1)),
           ("e/k300.bin", rng.randbytes(300 * KiB)), ("e/nine.bin", rng.randbytes(9 * MiB))]
    noid = [("p0a.bin", rng.randbytes(70000)), ("p0b.bin", rng.randbytes(70000)),
            ("p1a.bin", rng.randbytes(MiB + 77)), ("p1b.bin", rng.randbytes(MiB + 77)),
            ("solo.bin", rng.randbytes(12345))]
    return {"small": small, "big": big, "exp": exp, "noid": noid}


class Urls:
    """Signed URLs through the proxy. Files of input "noid" have no datum id and live behind
    /q/download?k=KEY (the proxy maps that to /data/KEY): their URLs differ only in the query.
    Files of input "exp" get short-lived URLs."""

    def __init__(self, store, proxy, short_lifetime, tls=None):
        self.store = store
        self.proxy = proxy
        self.short = short_lifetime
        self.tls = tls  # the API stand-in serves HTTPS with it, as the proxy does

    def lifetime(self, key):
        return self.short if key.startswith("exp/") else 3600

    def url(self, key, expires_in=None):  # the signature of Store.url, for ApiStandIn
        signed = self.proxy.url(self.store.url(key, expires_in=self.lifetime(key)))
        if not key.startswith("noid/"):
            return signed
        query = urllib.parse.urlsplit(signed).query
        return (f"{self.proxy.scheme}://127.0.0.1:{self.proxy.port}/q/download?k="
                f"{urllib.parse.quote(key, safe='')}&{query}")

    @staticmethod
    def rewrite(path):
        """The proxy's upstream path for a request path."""
        if not path.startswith("/q/download?"):
            return path
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        rest = urllib.parse.urlencode({"md5": q.get("md5", [""])[0],
                                       "expires": q.get("expires", [""])[0]})
        return "/data/" + q.get("k", [""])[0] + "?" + rest


class ChaosApi(ApiStandIn):
    """The input_request stand-in, failing at random (seeded): 500, bad JSON, or a stall."""

    def __init__(self, store, doc, rng, faults, stall_seconds):
        super().__init__(store, doc)
        self.rng = rng
        self.faults = faults
        self.stall_seconds = stall_seconds
        self.lock = threading.Lock()
        self.answers = collections.Counter()

    def next_mode(self):
        with self.lock:
            x = self.rng.random() if self.rng else 1.0
        mode = "ok"
        for m, p in self.faults.items():
            if x < p:
                mode = m
                break
            x -= p
        self.answers[mode] += 1
        if mode == "stall":
            time.sleep(self.stall_seconds)
            return "status_500"
        return mode


# Daemons

class Daemon:
    """One datumfs mount in the foreground (-f), its log in a file; each start is a new
    incarnation (for the kill -9 and flipped-byte bookkeeping)."""

    def __init__(self, chaos, index, mountpoint, args):
        self.chaos = chaos
        self.index = index
        self.mountpoint = mountpoint
        self.args = args
        self.proc = None
        self.incarnations = []  # [start, end or None, log path]
        self.expect_exit = False
        self.dev = None

    def start(self):
        os.makedirs(self.mountpoint, exist_ok=True)
        n = len(self.incarnations)
        log = os.path.join(self.chaos.work, f"daemon{self.index}.{n}.log")
        # Its own working directory: a core dump (--core) lands there.
        self.cwd = os.path.join(self.chaos.work, "cores", f"{self.index}.{n}")
        os.makedirs(self.cwd, exist_ok=True)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([self.chaos.datumfs, "mount", "-f", *self.args,
                                          self.mountpoint],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.cwd,
                                         preexec_fn=allow_core if self.chaos.a.core else None)
        self.expect_exit = False  # only now: the monitor must not see the old process
        deadline = time.monotonic() + 30
        while not is_mounted(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"daemon {self.index} did not mount (exit {self.proc.poll()}): "
                                 + tail(log, 20))
            time.sleep(0.05)
        self.dev = os.stat(self.mountpoint).st_dev
        self.incarnations.append([time.monotonic(), None, log])
        self.chaos.event("mount", daemon=self.index, incarnation=n, pid=self.proc.pid)

    def ended(self):
        if self.incarnations and self.incarnations[-1][1] is None:
            self.incarnations[-1][1] = time.monotonic()

    def kill9(self):
        self.expect_exit = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.ended()
        lazy_unmount(self.mountpoint)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.expect_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            abort_connection(self.dev)
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.ended()
        lazy_unmount(self.mountpoint)
        return rc

    def incarnation_at(self, t):
        for i, (start, end, _) in enumerate(self.incarnations):
            if start <= t and (end is None or t <= end):
                return i
        return None


def allow_core():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def backtrace(datumfs, directory):
    """The backtrace of the crashing thread in a core dump in `directory` (gdb), or ""."""
    cores = [os.path.join(directory, f) for f in os.listdir(directory) if f.startswith("core")]
    if not cores or not shutil.which("gdb"):
        return ""
    try:
        p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "bt 30", datumfs, cores[0]],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "(gdb timed out)"
    lines = [line for line in p.stdout.splitlines() if line.startswith("#")
             or "signal" in line.lower()]
    return "\n".join(lines[:40])


def lazy_unmount(path):
    for cmd in (["fusermount3", "-u", "-z", path], ["umount", "-l", path]):
        if not is_mounted(path):
            return
        subprocess.run(cmd, stderr=subprocess.DEVNULL, timeout=30)


def abort_connection(dev):
    """Aborts a FUSE connection (unblocks every process waiting on it)."""
    if dev is None:
        return
    try:
        with open(f"/sys/fs/fuse/connections/{os.minor(dev)}/abort", "w") as f:
            f.write("1")
    except OSError:
        pass


def tail(path, lines):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 200 * lines))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"({e})"


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "ERROR: ThreadSanitizer")


def sanitizer_lines(path):
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip() for line in f if any(m in line for m in SANITIZER_MARKS)]
    except OSError:
        return []


class SetupError(Exception):
    pass


class Stop(Exception):
    pass


# The run

class Chaos:
    def __init__(self, a):
        self.a = a
        self.seed = a.seed
        self.rng = random.Random(a.seed)
        self.datumfs = os.path.abspath(a.datumfs)
        self.rt = a.read_timeout
        self.bound = 2 * self.rt + 5  # a failing syscall must fail within this
        self.hang = 4 * self.rt + 20  # a syscall still running after this hangs
        self.work = a.workdir or tempfile.mkdtemp(prefix=f"datumfs-chaos-{a.seed}-")
        os.makedirs(self.work, exist_ok=True)
        self.lock = threading.Lock()
        self.t_start = time.monotonic()
        self.log = []        # every op record, in arrival order
        self.events = []     # kills, flips, gc runs, storms, mounts
        self.failures = []   # (kind, message, record or None)
        self.notes = collections.Counter()
        self.outcomes = collections.Counter()
        self.kill_windows = collections.defaultdict(list)  # mount index -> [[t0, t1]]
        self.death_windows = collections.defaultdict(list)  # unexpected deaths
        self.flips = collections.defaultdict(list)  # file path -> [(t, offset)]
        self.workers = []  # (name, Popen, thread)
        self.last_begin = {}  # pid -> last "begin" record (mmap workers)
        self.stopping = threading.Event()
        self.daemons = []
        self.tmpfs = None
        self.store = self.proxy = self.api = self.node = None
        self.final_daemon = None
        self.backtraces = 0

    # Bookkeeping
    def now(self):
        return round(time.monotonic() - self.t_start, 3)

    def event(self, kind, **info):
        with self.lock:
            self.events.append({"t": time.monotonic(), "at": self.now(), "event": kind, **info})
        if self.a.verbose:
            print(f"[{self.now():8.2f}] {kind} {info}", flush=True)

    def fail(self, kind, message, record=None):
        with self.lock:
            self.failures.append((kind, message, record))
            shown = sum(1 for k, _, _ in self.failures if k == kind) <= 5
        if shown:
            print(f"[{self.now():8.2f}] FAILURE {kind}: {message}", flush=True)
        if not self.a.keep_going:
            self.stopping.set()

    # Setup
    def setup(self):
        self.cache = os.path.join(self.work, "cache-fs")
        os.makedirs(self.cache)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.a.cache_fs},mode=0700",
                        "tmpfs", self.cache], check=True)
        self.tmpfs = self.cache
        self.cache = os.path.join(self.cache, "cache")
        self.store = Store(os.path.join(self.work, "store")).start()
        # HTTPS between the daemons and the proxy, with certificates of a CA of this run.
        certs = None if self.a.plain_http else Certs(os.path.join(self.work, "certs"))
        self.proxy = FaultProxy(self.store.port, stall_seconds=self.rt + 2,
                                short_stall_seconds=0.5, rewrite=Urls.rewrite,
                                tls=certs.good if certs else None)
        self.urls = Urls(self.store, self.proxy, self.a.url_lifetime,
                         tls=certs.good if certs else None)
        data = make_dataset(random.Random(f"{self.seed}/data"), self.a.big_mib)
        for name in self.a.without:
            data.pop(name, None)
        inputs = os.path.join(self.work, "inputs.json")
        doc = write_inputs(inputs, self.store, data)
        for input_name, v in doc.items():
            for f in v["files"]:
                key = f"{input_name}/{f['name']}"
                f["storage_uri"] = self.urls.url(key)
                if input_name == "noid":
                    del f["datum_id"], f["uri"]
        # Same-size objects without a datum id, with equal mtimes: equal ETags too (nginx's
        # ETag is mtime-size), so only the query tells them apart.
        stamp = int(time.time()) - 100
        for name, _ in data.get("noid", []):
            os.utime(os.path.join(self.store.root, "noid", name), (stamp, stamp))
        with open(inputs, "w") as f:
            json.dump(doc, f, indent=1)
        self.inputs = inputs
        self.files = []  # what the workers read: path in mount, size, truth
        self.key_files = collections.defaultdict(list)  # cache key -> file paths
        for input_name, v in doc.items():
            for f in v["files"]:
                rel = f"{input_name}/{f['name']}"
                self.files.append({"path": rel, "size": f["size"],
                                   "truth": os.path.join(self.store.root, input_name, f["name"]),
                                   "sha256": f["checksums"]["sha256"]})
                if "datum_id" in f:
                    key = "d-" + f["datum_id"]
                else:  # BlockCache::KeyFor without a datum id: the URL without its query
                    base = f["storage_uri"].split("?")[0]
                    key = "u-" + sha256(f"{base}\n{f['size']}".encode())
                self.key_files[key].append(rel)
        self.dirs = collections.defaultdict(set)
        for f in self.files:
            parts = f["path"].split("/")
            for i in range(len(parts)):
                self.dirs["/".join(parts[:i])].add(parts[i])
        self.api = ChaosApi(self.urls, doc, random.Random(f"{self.seed}/api"), API_FAULTS,
                            stall_seconds=self.rt + 1)
        self.api_json = self.api.api_json(os.path.join(self.work, "api.json"))
        self.proxy.randomize(random.Random(f"{self.seed}/proxy"),
                             {m: p * self.a.fault_rate for m, p in FAULTS.items()})
        self.node = FaultProxy(self.store.port, stall_seconds=self.rt + 2,
                               short_stall_seconds=0.5, rewrite=Urls.rewrite, site_cache=True)
        self.node.randomize(random.Random(f"{self.seed}/node"),
                            {m: p * self.a.fault_rate for m, p in FAULTS.items()})
        args = ["--inputs", inputs, "--api", self.api_json, "--cache-dir", self.cache,
                "--cache-max", self.a.cache_max, "--min-free", "4M",
                "--read-timeout", str(self.rt), "--stall-timeout", "1",
                "--refresh-margin", "2", "--log-level", self.a.log_level]
        self.tls_args = ["--ca-file", certs.ca] if certs else []
        args += self.tls_args
        node = ["--site-cache", f"http://127.0.0.1:{self.node.port}"]
        for i in range(2):
            self.daemons.append(Daemon(self, i, os.path.join(self.work, f"mnt{i}"),
                                       args + (node if i == 1 else [])))
        for d in self.daemons:
            d.start()
        self.config = os.path.join(self.work, "worker.json")
        with open(self.config, "w") as f:
            json.dump({"seed": self.seed, "end": self.t_start + 10 ** 6,
                       "mounts": [d.mountpoint for d in self.daemons],
                       "files": self.files, "dirs": {k: sorted(v) for k, v in self.dirs.items()},
                       "mix": READER_MIX, "threads": 3, "hang": self.hang,
                       "pause": self.a.op_pause}, f)

    # Workers
    def spawn(self, name, **overrides):
        overrides.setdefault("end", self.t_end)
        p = subprocess.Popen([sys.executable, WORKER, self.config, name, json.dumps(overrides)],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             bufsize=1)
        t = threading.Thread(target=self.collect, args=(name, p), daemon=True)
        t.start()
        with self.lock:
            self.workers.append((name, p, t))
        return p

    def collect(self, name, p):
        for line in p.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            self.handle(rec)
        rc = p.wait()
        if rc == -signal.SIGBUS:  # a failed mmap read
            begin = self.last_begin.get(p.pid, {})
            rec = {**begin, "k": "op", "w": name, "pid": p.pid, "res": "sigbus",
                   "t1": time.monotonic()}
            rec.setdefault("t0", rec["t1"])
            self.handle(rec)
            if time.monotonic() < self.t_end - 1 and not self.stopping.is_set():
                self.notes["mmap worker respawned after SIGBUS"] += 1
                self.spawn(name + "+", threads=1, mix={"mmap": 1}, announce=True)
        elif rc != 0 and not self.stopping.is_set():
            self.fail("worker", f"worker {name} (pid {p.pid}) exited with {rc}")

    def handle(self, rec):
        kind = rec.get("k")
        if kind == "begin":
            self.last_begin[rec["pid"]] = rec
            return
        if kind == "hang":
            op = rec.get("op", {})
            if self.in_window(op.get("mnt"), rec["t0"], time.monotonic(), deaths=True):
                return
            self.fail("hang", f"{rec['syscall']} in {rec['w']}/{rec['tid']} has not returned "
                              f"after {rec['since']} s: {json.dumps(op)}", op)
            return
        if kind != "op":
            return
        rec["at"] = round(rec["t1"] - self.t_start, 3)
        with self.lock:
            self.log.append(rec)
        verdict = self.judge(rec)
        self.outcomes[(rec["op"], rec["res"] if rec["res"] != "errno" else
                       errno.errorcode.get(rec.get("errno"), str(rec.get("errno"))))] += 1
        if verdict:
            self.fail(*verdict, rec)

    def in_window(self, mnt, t0, t1, deaths=False):
        windows = self.kill_windows[mnt] + (self.death_windows[mnt] if deaths else [])
        return any(t0 <= w1 + 0.5 and t1 >= w0 - 0.5 for w0, w1 in windows)

    def died_under(self, rec):
        """True if the daemon that served the op's mount at its start is dead by now (its
        death is a failure of its own, reported once by the monitor)."""
        if rec.get("mnt") is None:
            return False
        d = self.daemons[rec["mnt"]]
        inc = d.incarnation_at(rec.get("t0", rec["t1"]))
        if inc is None:
            return d.proc.poll() is not None
        return d.incarnations[inc][1] is not None or (
            inc == len(d.incarnations) - 1 and d.proc.poll() is not None)

    def died_soon(self, rec):
        """died_under, waiting a moment: a dying daemon's connection is aborted a little
        before the process can be reaped."""
        for _ in range(20):
            if self.died_under(rec):
                return True
            time.sleep(0.1)
        return False

    def judge(self, rec):
        """None if the op's outcome is allowed, else (kind, message)."""
        res, mnt = rec["res"], rec.get("mnt")
        elapsed = rec["t1"] - rec.get("t0", rec["t1"])
        window = self.in_window(mnt, rec.get("t0", rec["t1"]), rec["t1"])
        death = self.in_window(mnt, rec.get("t0", rec["t1"]), rec["t1"], deaths=True)
        if res == "ok":
            if rec.get("slow", 0) > self.bound:
                self.notes[f"slow success (> {self.bound:g} s)"] += 1
            return None
        if res == "wrong":
            return self.judge_wrong(rec)
        if res in ("errno", "short", "sigbus"):
            e = rec.get("errno")
            if res == "errno" and e not in ALLOWED_ERRNOS:
                if e in KILL_WINDOW_ERRNOS and (window or death or self.died_soon(rec)):
                    return None
                return ("errno", f"{rec['op']} {rec.get('path')} failed with "
                                 f"{errno.errorcode.get(e, e)} ({rec.get('detail')})")
            slow = rec.get("slow", elapsed) if res != "sigbus" else elapsed
            if slow > self.bound and not window and not death:
                return ("deadline", f"{rec['op']} {rec.get('path')} failed ({res} "
                                    f"{errno.errorcode.get(e, '')}) after {slow:.1f} s, "
                                    f"more than 2 x read-timeout + 5 = {self.bound:g} s")
            self.notes[f"allowed failure: {res} {errno.errorcode.get(e, '')}".strip()] += 1
            return None
        if res == "meta":
            if window or death or self.died_soon(rec):
                return None
            return ("metadata", f"{rec['op']} {rec.get('path')}: {rec.get('detail')}")
        return ("unknown", f"unknown result {res}")

    def judge_wrong(self, rec):
        d = rec.get("detail") or {}
        path, mnt = rec.get("path"), rec.get("mnt")
        diffs = d.get("diffs") or []
        flips = self.flips.get(path, [])
        flip_offsets = {off: t for t, off in flips}
        # Every differing byte is a byte the test flipped in the cache (XOR 0xff)?
        if (diffs and d.get("ndiff", 0) == len(diffs)
                and all(p in flip_offsets and g == w ^ 0xff for p, g, w in diffs)):
            daemon = self.daemons[mnt]
            inc = daemon.incarnation_at(rec.get("t0", rec["t1"]))
            flip_t = min(flip_offsets[p] for p, _, _ in diffs)
            started = daemon.incarnations[inc][0] if inc is not None else None
            if started is not None and started < flip_t and not self.a.strict_flips:
                # DESIGN: a daemon that has checked an extent's CRC once may splice it after.
                self.notes["flipped byte served by a daemon that had it before the flip "
                           "(allowed by DESIGN: CRC checked once per process)"] += 1
                return None
            return ("wrong-bytes", f"a byte flipped in the cache was served: {path} at "
                                   f"{[p for p, _, _ in diffs]} by daemon {mnt} incarnation "
                                   f"{inc} (started {'after' if started and started > flip_t else 'before'}"
                                   f" the flip)")
        hint = ""
        if d.get("matches"):
            hint = f"; they are the bytes of {d['matches']} (same size)"
        if d.get("html"):
            hint += "; they look like an HTML error page"
        if d.get("zeros"):
            hint += "; all zeros"
        return ("wrong-bytes", f"{rec['op']} {path} via mount {mnt} at {d.get('at')}: "
                               f"{d.get('ndiff')} wrong bytes, first at {d.get('first')} "
                               f"(got {d.get('got_len')} bytes, want {d.get('want_len')}){hint}")

    # Chaos actors
    def daemon_monitor(self):
        while not self.stopping.is_set() and time.monotonic() < self.t_end:
            for d in self.daemons:
                if d.proc.poll() is not None and not d.expect_exit:
                    rc = d.proc.returncode
                    d.ended()
                    start = d.incarnations[-1][0]
                    t = time.monotonic()
                    self.death_windows[d.index].append([t - 1, t + 10 ** 6])
                    log = d.incarnations[-1][2]
                    bt = ""
                    if self.a.core and self.backtraces < 3:
                        self.backtraces += 1
                        time.sleep(1)  # the kernel may still be writing the core
                        bt = backtrace(self.datumfs, d.cwd)
                    self.fail("daemon-died", f"daemon {d.index} (pid {d.proc.pid}) died with "
                                             f"status {rc} after {t - start:.1f} s; its log:\n"
                              + tail(log, 60) + (f"\nbacktrace (core):\n{bt}" if bt else ""))
                    d.expect_exit = True
                    lazy_unmount(d.mountpoint)
                    if self.a.keep_going and time.monotonic() < self.t_end - 10:
                        try:
                            d.start()
                            self.death_windows[d.index][-1][1] = time.monotonic()
                        except SetupError as e:
                            self.fail("remount", str(e))
            time.sleep(0.2)

    def killer(self):
        """kill -9 of one of the two daemons at random moments; it is then remounted."""
        n = max(1, int(self.a.duration // 150))
        times = sorted(self.rng.uniform(0.2, 0.8) * self.a.duration for _ in range(n))
        for at in times:
            if not self.sleep_until(self.t_start + at):
                return
            d = self.daemons[self.rng.randrange(2)]
            if d.proc.poll() is not None:
                continue
            t0 = time.monotonic()
            self.kill_windows[d.index].append([t0, t0 + 10 ** 6])
            self.event("kill-9", daemon=d.index, pid=d.proc.pid)
            d.kill9()
            time.sleep(self.rng.uniform(0, 2))
            try:
                d.start()
            except SetupError as e:
                self.fail("remount", str(e))
            self.kill_windows[d.index][-1][1] = time.monotonic()

    def flipper(self):
        """Flips one byte (XOR 0xff) inside the data of a random cache data file."""
        data_dir = os.path.join(self.cache, "data")
        by_key = {k: v for k, v in self.key_files.items()}
        while self.sleep_until(time.monotonic() + self.rng.uniform(5, 20)):
            files = [os.path.join(d, f) for d, _, fs in os.walk(data_dir) for f in fs]
            files = [f for f in files if os.path.basename(f) in by_key]
            if not files:
                continue
            path = self.rng.choice(sorted(files))
            try:
                with open(path, "r+b") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size == 0:
                        continue
                    at = self.rng.randrange(size)
                    try:
                        start = os.lseek(f.fileno(), at, os.SEEK_DATA)
                    except OSError:
                        start = os.lseek(f.fileno(), 0, os.SEEK_DATA)
                    end = os.lseek(f.fileno(), start, os.SEEK_HOLE)
                    pos = self.rng.randrange(start, end)
                    old = os.pread(f.fileno(), 1, pos)
                    t = time.monotonic()
                    for rel in by_key[os.path.basename(path)]:
                        self.flips[rel].append((t, pos))
                    os.pwrite(f.fileno(), bytes([old[0] ^ 0xff]), pos)
            except OSError as e:  # evicted meanwhile, or no data at all
                if e.errno not in (errno.ENXIO, errno.ENOENT):
                    raise
                continue
            self.event("flip", key=os.path.basename(path), files=by_key[os.path.basename(path)],
                       offset=pos)

    def gc_loop(self):
        """`datumfs cache gc` beside the daemons, now and then with --all."""
        while self.sleep_until(time.monotonic() + self.rng.uniform(2, 6)):
            args = (["--all"] if self.rng.random() < 0.1 else
                    ["--cache-max", self.rng.choice(["8M", "16M", "24M"]), "--min-free", "0"])
            try:
                p = subprocess.run([self.datumfs, "cache", "gc", "--cache-dir", self.cache, *args],
                                   capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                self.fail("gc", f"cache gc {' '.join(args)} took more than 60 s")
                continue
            self.event("gc", args=" ".join(args), rc=p.returncode, out=p.stdout.strip())
            if p.returncode != 0:
                self.fail("gc", f"cache gc {' '.join(args)} exited {p.returncode}: "
                                f"{p.stderr.strip()}")

    def storms(self):
        """Now and then 8 processes loop open, pread 4 x 1 MiB, close for a few seconds."""
        while self.sleep_until(time.monotonic() + self.rng.uniform(10, 40)):
            end = min(self.t_end, time.monotonic() + self.a.storm_seconds)
            self.event("storm", seconds=round(end - time.monotonic(), 1))
            procs = [self.spawn(f"storm{len(self.events)}.{i}", end=end, threads=1,
                                mix={"storm": 1}, pause=0) for i in range(8)]
            for p in procs:
                try:
                    p.wait(timeout=end - time.monotonic() + self.hang + 10)
                except subprocess.TimeoutExpired:
                    pass

    def sleep_until(self, t):
        """Sleeps until monotonic time t; False if the run is ending first."""
        t = min(t, self.t_end + 0.001)
        self.stopping.wait(max(0.0, t - time.monotonic()))
        return not self.stopping.is_set() and time.monotonic() < self.t_end

    # The run
    def run(self):
        self.t_end = time.monotonic() + self.a.duration
        for i in range(self.a.readers):
            self.spawn(f"reader{i}")
        self.spawn("mmap", threads=1, mix={"mmap": 1}, announce=True)
        actors = [threading.Thread(target=self.guard, args=(f,), daemon=True)
                  for f in (self.daemon_monitor, self.killer, self.flipper, self.gc_loop,
                            self.storms)]
        for t in actors:
            t.start()
        while time.monotonic() < self.t_end and not self.stopping.is_set():
            self.stopping.wait(1)
            if self.a.verbose and int(self.now()) % 15 == 0:
                print(f"[{self.now():8.2f}] {len(self.log)} ops, {len(self.failures)} failures",
                      flush=True)
        self.t_end = min(self.t_end, time.monotonic())
        if self.stopping.is_set():  # stopped early: the readers need not go on
            for name, p, t in list(self.workers):
                if p.poll() is None:
                    p.terminate()
        self.wait_workers()
        for t in actors:
            t.join(timeout=self.hang + 70)
        self.stopping.set()
        for d in self.daemons:  # still alive: none died but the one killed
            if d.proc.poll() is not None and not d.expect_exit:
                self.fail("daemon-died", f"daemon {d.index} exited with {d.proc.returncode}:\n"
                          + tail(d.incarnations[-1][2], 60))

    def guard(self, fn):
        try:
            fn()
        except Exception:
            self.fail("test", f"{fn.__name__} raised:\n{traceback.format_exc()}")

    def wait_workers(self):
        deadline = time.monotonic() + self.hang + 20
        for name, p, t in list(self.workers):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.fail("hang", f"worker {name} (pid {p.pid}) did not finish "
                                  f"{self.hang + 20:g} s after the end")
        for d in self.daemons:
            if any(p.poll() is None for _, p, _ in self.workers):
                abort_connection(d.dev)
        for name, p, t in list(self.workers):
            if p.poll() is None:
                p.kill()
                p.wait()
            t.join(timeout=10)

    def final_check(self):
        """No faults; the two daemons stop cleanly; a new daemon reads everything byte-exact;
        cache verify is clean."""
        self.proxy.randomize(None)
        self.node.randomize(None)
        self.api.rng = None
        for d in self.daemons:
            if d.proc.poll() is None:
                rc = d.stop()
                if rc != 0:
                    self.fail("daemon-exit", f"daemon {d.index} exited with {rc} on SIGTERM:\n"
                              + tail(d.incarnations[-1][2], 40))
            for inc in d.incarnations:
                for line in sanitizer_lines(inc[2])[:5]:
                    self.fail("sanitizer", f"daemon {d.index} ({os.path.basename(inc[2])}): "
                                           f"{line}")
        clean = Daemon(self, 9, os.path.join(self.work, "mnt-clean"),
                       ["--inputs", self.inputs, "--api", self.api_json, "--cache-dir", self.cache,
                        "--min-free", "0", "--read-timeout", "60", *self.tls_args])
        self.final_daemon = clean
        clean.start()
        bad = 0
        try:
            for f in self.files:
                path = os.path.join(clean.mountpoint, f["path"])
                h = hashlib.sha256()
                try:
                    with open(path, "rb") as fh:
                        while chunk := fh.read(MiB):
                            h.update(chunk)
                    if os.stat(path).st_size != f["size"]:
                        raise ValueError(f"size {os.stat(path).st_size}, want {f['size']}")
                except (OSError, ValueError) as e:
                    self.fail("final-read", f"{f['path']}: {e}")
                    bad += 1
                    continue
                if h.hexdigest() != f["sha256"]:
                    self.fail("final-read", f"{f['path']}: wrong bytes (sha256 differs) on a "
                                            "clean mount without faults")
                    bad += 1
            for d, names in self.dirs.items():
                got = sorted(os.listdir(os.path.join(clean.mountpoint, d)))
                if got != sorted(names):
                    self.fail("final-read", f"listdir {d!r}: {got}, want {sorted(names)}")
        finally:
            rc = clean.stop(timeout=30)
            if rc != 0:
                self.fail("daemon-exit", f"the clean daemon exited with {rc}:\n"
                          + tail(clean.incarnations[-1][2], 40))
        self.event("final-read", files=len(self.files), bad=bad)
        p = subprocess.run([self.datumfs, "cache", "verify", "--cache-dir", self.cache],
                           capture_output=True, text=True, timeout=300)
        self.event("verify", rc=p.returncode, out=p.stdout.strip()[-500:])
        if p.returncode != 0:
            self.fail("verify", f"cache verify exited {p.returncode}:\n{p.stdout}{p.stderr}")
        else:
            self.verify_out = p.stdout.strip().splitlines()[-1:]

    def cleanup(self):
        self.stopping.set()
        for name, p, t in list(self.workers):
            if p.poll() is None:
                p.kill()
        for d in self.daemons + ([self.final_daemon] if self.final_daemon else []):
            if d.proc and d.proc.poll() is None:
                abort_connection(d.dev)
                d.proc.kill()
                d.proc.wait()
            lazy_unmount(d.mountpoint)
        for name, p, t in list(self.workers):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for s in (self.api, self.proxy, self.node):
            if s:
                s.stop()
        if self.store:
            self.store.stop()
        if self.tmpfs:
            subprocess.run(["umount", "-l", self.tmpfs], stderr=subprocess.DEVNULL)
        if not self.failures and not self.a.keep_workdir:
            shutil.rmtree(self.work, ignore_errors=True)
        elif self.store:
            shutil.rmtree(os.path.join(self.work, "store", "root"), ignore_errors=True)
            if not self.a.keep_workdir:  # cores are big; the backtraces are in the report
                shutil.rmtree(os.path.join(self.work, "cores"), ignore_errors=True)

    # The report
    def report(self):
        out = sys.stdout
        w = out.write
        w(f"\n=== datumfs chaos: seed {self.seed}, {self.a.duration:g} s, "
          f"read-timeout {self.rt:g} s: {len(self.log)} ops, {len(self.failures)} failures ===\n")
        faults = collections.Counter(s[1] for s in self.proxy.seen) if self.proxy else {}
        w(f"store requests by fault: {dict(sorted(faults.items()))}\n")
        if self.node:
            faults = collections.Counter(s[1] for s in self.node.seen)
            w(f"site cache node requests by fault: {dict(sorted(faults.items()))}\n")
        if self.api:
            w(f"input_request answers: {dict(self.api.answers)}\n")
        w("outcomes: " + ", ".join(f"{op} {res}: {n}" for (op, res), n in
                                    sorted(self.outcomes.items())) + "\n")
        for note, n in sorted(self.notes.items()):
            w(f"note: {note}: {n}\n")
        kinds = collections.Counter(e["event"] for e in self.events)
        w(f"events: {dict(kinds)}\n")
        if not self.failures:
            w(f"PASS ({' '.join(getattr(self, 'verify_out', []))})\n")
            return
        with open(os.path.join(self.work, "ops.jsonl"), "w") as f:
            for rec in sorted(self.log, key=lambda r: r["t1"]):
                f.write(json.dumps(rec) + "\n")
        with open(os.path.join(self.work, "events.jsonl"), "w") as f:
            for e in self.events:
                f.write(json.dumps(e) + "\n")
        w(f"\nFAIL: seed {self.seed}\n")
        for kind, message, rec in self.failures[:40]:  # in full, with the ops
            w(f"--- {kind}: {message}\n")
            if rec:
                w(f"    op: {json.dumps(rec)}\n")
        w("\n--- events:\n")
        for e in self.events[-60:]:
            w(f"  {json.dumps(e)}\n")
        w("\n--- the last 200 ops (at = seconds since start):\n")
        for rec in sorted(self.log, key=lambda r: r["t1"])[-200:]:
            brief = {k: rec.get(k) for k in ("at", "w", "tid", "op", "mnt", "path", "off", "size",
                                             "res", "errno", "slow", "detail") if k in rec}
            w(f"  {json.dumps(brief)}\n")
        for d in self.daemons + ([self.final_daemon] if self.final_daemon else []):
            for i, (_, _, log) in list(enumerate(d.incarnations))[-3:]:
                w(f"\n--- daemon {d.index} incarnation {i}: {log} (tail):\n{tail(log, 25)}\n")
        # The summary last: meson shows only the end of a failed test's output.
        w(f"\n=== FAILURES of seed {self.seed} (first lines; in full above) ===\n")
        shown = collections.Counter()
        for kind, message, rec in self.failures:
            shown[kind] += 1
            if shown[kind] > 5:
                continue
            lines = message.splitlines()
            w(f"* {kind}: {lines[0][:400]}\n")
            picked = [line for line in lines[1:]
                      if line.startswith(("#", "terminate", "  what()", "SUMMARY"))
                      or any(m in line for m in SANITIZER_MARKS)]
            for line in picked[:14]:
                w(f"    {line[:200]}\n")
        for kind, n in shown.items():
            if n > 5:
                w(f"* ... and {n - 5} more {kind} failures\n")
        w(f"kept: {self.work} (ops.jsonl, events.jsonl, daemon logs)\n")
        w(f"replay: /usr/bin/python3 {os.path.relpath(__file__)} --seed {self.seed} "
          f"--duration {self.a.duration:g} --datumfs {self.a.datumfs}\n")
        w(f"FAIL: seed {self.seed}\n")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    p.add_argument("--duration", type=float, default=60, help="seconds of chaos (default 60)")
    p.add_argument("--datumfs", default=os.environ.get("DATUMFS_BIN") or "build/src/datumfs")
    p.add_argument("--read-timeout", type=float, default=5, help="the daemons' --read-timeout")
    p.add_argument("--readers", type=int, default=3, help="reader processes (3 threads each)")
    p.add_argument("--fault-rate", type=float, default=1.0,
                   help="scales every per-request fault probability (0: no faults)")
    p.add_argument("--cache-fs", default="64m", help="size of the cache's tmpfs")
    p.add_argument("--cache-max", default="40M", help="the daemons' --cache-max")
    p.add_argument("--big-mib", type=float, default=42, help="MiB in the three large files")
    p.add_argument("--url-lifetime", type=float, default=20,
                   help="seconds the URLs of input exp/ live (refreshed through the API)")
    p.add_argument("--storm-seconds", type=float, default=6)
    p.add_argument("--op-pause", type=float, default=0.01,
                   help="a reader thread sleeps up to this many seconds between ops (CPU)")
    p.add_argument("--without", type=lambda s: [x for x in s.split(",") if x], default=[],
                   help="inputs to leave out, comma-separated: small, big, exp (short-lived "
                        "URLs), noid (no datum id, URLs that differ only in the query)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--plain-http", action="store_true",
                   help="the proxy speaks plain HTTP (default: HTTPS, with a CA of the run)")
    p.add_argument("--keep-going", action="store_true",
                   help="do not stop at the first failure (restart a daemon that died)")
    p.add_argument("--strict-flips", action="store_true",
                   help="a flipped byte served by a daemon that had checked that extent before "
                        "the flip fails too (DESIGN allows it: the CRC is checked once per "
                        "process)")
    p.add_argument("--core", action="store_true",
                   help="let daemons dump core and print gdb's backtrace of the first crashes")
    p.add_argument("--workdir", help="default: a new directory under $TMPDIR")
    p.add_argument("--keep-workdir", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 10 ** 6)
    return a


def main(argv=None):
    a = parse_args(argv)
    if os.geteuid() != 0:
        print("chaos: needs root (tmpfs mount)", file=sys.stderr)
        return 2
    if not os.path.exists(a.datumfs):
        print(f"chaos: no datumfs binary at {a.datumfs}", file=sys.stderr)
        return 2
    print(f"datumfs chaos: seed {a.seed}, duration {a.duration:g} s", flush=True)
    c = Chaos(a)
    # A hard limit on the whole run: setup, chaos, final check and cleanup.
    limit = threading.Timer(a.duration + 600, lambda: (
        print(f"chaos: seed {a.seed}: the run exceeded its time limit; aborting", flush=True),
        [abort_connection(d.dev) for d in c.daemons], os._exit(1)))
    limit.daemon = True
    limit.start()
    try:
        c.setup()
        c.run()
        c.final_check()
    except SetupError as e:
        print(f"chaos: setup failed: {e}", file=sys.stderr)
        c.failures.append(("setup", str(e), None))
    except BaseException:
        c.failures.append(("test", traceback.format_exc(), None))
        traceback.print_exc()
    finally:
        c.stopping.set()
        try:
            c.report()
        finally:
            c.cleanup()
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
