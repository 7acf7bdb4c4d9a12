"""One reader process of the chaos test (test/chaos/chaos.py starts several).

    chaos_worker.py CONFIG NAME

CONFIG is a JSON file written by chaos.py: the mountpoints, the files (path in the mount, size,
and where the truth lies: the file the test wrote into the store), the directories and their
entries, the op mix, the number of threads, the seed and the monotonic deadline. Each thread
does random ops on random files until the deadline and prints one JSON line per op to stdout:

    {"k": "op", "w": worker, "tid": thread, "op": ..., "mnt": mount index, "path": ...,
     "off": ..., "size": ..., "t0": ..., "t1": ..., "res": "ok"|"short"|"wrong"|"errno"|"meta",
     "errno": ..., "slow": the longest syscall, "detail": ...}

Every byte read is compared with the truth here. The worker does not judge errors (the parent
knows the deadline, the kill -9 windows and the flipped bytes); it only reports. A watchdog
thread prints {"k": "hang", ...} for a syscall that has not returned within CONFIG["hang"]
seconds. Workers doing mmap run one thread and print {"k": "begin", ...} before each op, so
that a SIGBUS (how the kernel reports a failed mmap read) can be blamed on its op."""

import json
import mmap
import os
import random
import sys
import threading
import time

MiB = 1 << 20
OUT_LOCK = threading.Lock()


def emit(record):
    line = json.dumps(record, separators=(",", ":"))
    with OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Truth:
    """The bytes the test wrote into the store, read from there."""

    def __init__(self, files):
        self.files = files
        self.fds = {}
        self.lock = threading.Lock()

    def read(self, f, off, size):
        with self.lock:
            fd = self.fds.get(f["path"])
            if fd is None:
                fd = self.fds[f["path"]] = os.open(f["truth"], os.O_RDONLY)
        return os.pread(fd, size, off) if size > 0 else b""

    def explain(self, f, off, got, want):
        """Where wrong bytes differ and what they look like (for the report)."""
        diff = [i for i in range(min(len(got), len(want))) if got[i] != want[i]]
        detail = {"first": off + diff[0] if diff else None, "ndiff": len(diff),
                  "diffs": [[off + i, got[i], want[i]] for i in diff[:16]],
                  "got_head": got[diff[0]:diff[0] + 48].hex() if diff else ""}
        lowered = got.lower()
        if b"<html" in lowered or b"</h1>" in lowered or b"service" in lowered:
            detail["html"] = True
        if not any(got):
            detail["zeros"] = True
        for other in self.files:  # the wrong bytes are another file's (of that size)?
            if other is not f and other["size"] == f["size"] and len(diff) > 8:
                theirs = self.read(other, off, len(got))
                if all(got[i] == theirs[i] for i in diff):
                    detail["matches"] = other["path"]
                    break
        return detail


class Worker:
    def __init__(self, config, name):
        self.c = config
        self.name = name
        self.files = config["files"]
        self.truth = Truth(self.files)
        self.nonempty = [f for f in self.files if f["size"] > 0]
        self.big = [f for f in self.files if f["size"] >= MiB]
        self.dirs = sorted(config["dirs"].items())
        self.ops = [(op, w) for op, w in config["mix"].items() if w > 0]
        self.busy = {}  # tid -> (syscall start, what)
        self.busy_lock = threading.Lock()

    # Timing of each syscall, for the watchdog and the "slow" figure.
    def syscall(self, tid, rec, what, fn, *args):
        t = time.monotonic()
        with self.busy_lock:
            self.busy[tid] = (t, what, rec)
        try:
            return fn(*args)
        finally:
            elapsed = time.monotonic() - t
            with self.busy_lock:
                self.busy.pop(tid, None)
            rec["slow"] = max(rec.get("slow", 0), round(elapsed, 3))

    def watchdog(self):
        reported = set()
        while time.monotonic() < self.c["end"] + self.c["hang"] * 3:
            time.sleep(1)
            now = time.monotonic()
            with self.busy_lock:
                stuck = [(tid, t, what, rec) for tid, (t, what, rec) in self.busy.items()
                         if now - t > self.c["hang"] and (tid, t) not in reported]
            for tid, t, what, rec in stuck:
                reported.add((tid, t))
                emit({"k": "hang", "w": self.name, "tid": tid, "syscall": what,
                      "since": round(now - t, 1), "t0": t, "op": rec})

    def pick_file(self, rng, op):
        if op in ("mmap", "pread_burst", "storm"):
            return rng.choice(self.big if op == "storm" and self.big else self.nonempty)
        return rng.choice(self.files)

    def run_thread(self, tid):
        rng = random.Random(f"{self.c['seed']}/{self.name}/{tid}")
        names = [op for op, _ in self.ops]
        weights = [w for _, w in self.ops]
        n = 0
        while time.monotonic() < self.c["end"] and n < self.c.get("max_ops", 10 ** 9):
            n += 1
            if self.c.get("pause"):
                time.sleep(rng.uniform(0, self.c["pause"]))
            op = rng.choices(names, weights)[0]
            mnt_index = rng.randrange(len(self.c["mounts"]))
            rec = {"k": "op", "w": self.name, "pid": os.getpid(), "tid": tid, "op": op,
                   "mnt": mnt_index}
            try:
                getattr(self, "op_" + op)(rng, tid, self.c["mounts"][mnt_index], rec)
            except OSError as e:
                rec.update(res="errno", errno=e.errno, detail=os.strerror(e.errno or 0))
            except Exception as e:  # a bug of the test itself: a failure, not a silent thread
                rec.update(res="exception", detail=f"{type(e).__name__}: {e}")
            rec["t1"] = time.monotonic()
            if "res" not in rec:
                rec["res"] = "ok"
            emit(rec)

    def start(self, rec, op_path, off=None, size=None):
        rec.update(path=op_path, off=off, size=size, t0=time.monotonic())
        if self.c.get("announce"):
            emit({"k": "begin", "w": self.name, "pid": os.getpid(), "tid": rec["tid"],
                  "op": rec["op"], "mnt": rec["mnt"], "path": op_path, "off": off, "size": size,
                  "t0": rec["t0"]})

    def check(self, rec, f, off, got, want_size):
        """Compares `got` (read at `off`, `want_size` asked) with the truth; records the
        outcome in rec unless it is right. Returns False if wrong."""
        expect = self.truth.read(f, off, max(0, min(want_size, f["size"] - off)))
        if got == expect:
            return True
        if len(got) < len(expect) and got == expect[:len(got)]:
            rec.setdefault("res", "short")
            rec.setdefault("detail", f"{len(got)} of {len(expect)} bytes at {off}")
            return True
        rec["res"] = "wrong"
        rec["detail"] = self.truth.explain(f, off, got, expect)
        rec["detail"]["got_len"], rec["detail"]["want_len"] = len(got), len(expect)
        rec["detail"]["at"] = off
        return False

    def random_range(self, rng, f):
        size = f["size"]
        kind = rng.random()
        if kind < 0.3:
            n = rng.choice([1, 7, 4096, 4097, 65536, 131072 + 3])
        elif kind < 0.8:
            n = rng.randrange(1, 512 * 1024)
        else:
            n = rng.randrange(1, 4 * MiB)
        where = rng.random()
        if where < 0.1:
            off = max(0, size - rng.randrange(0, 8192))  # near (or at) the end
        elif where < 0.15:
            off = size + rng.randrange(0, 4096)  # past the end: b""
        elif where < 0.3:
            off = rng.randrange(0, max(1, size // 4096 + 1)) * 4096  # page aligned
        else:
            off = rng.randrange(0, max(1, size))
        return off, n

    # The ops
    def op_pread(self, rng, tid, mnt, rec):
        f = self.pick_file(rng, "pread")
        off, n = self.random_range(rng, f)
        path = os.path.join(mnt, f["path"])
        self.start(rec, f["path"], off, n)
        fd = self.syscall(tid, rec, "open", os.open, path, os.O_RDONLY)
        try:
            got = self.syscall(tid, rec, "pread", os.pread, fd, n, off)
            self.check(rec, f, off, got, n)
        finally:
            os.close(fd)

    def op_pread_burst(self, rng, tid, mnt, rec):
        """Several random preads on one open file."""
        f = self.pick_file(rng, "pread_burst")
        path = os.path.join(mnt, f["path"])
        self.start(rec, f["path"], None, None)
        fd = self.syscall(tid, rec, "open", os.open, path, os.O_RDONLY)
        try:
            for _ in range(rng.randrange(2, 9)):
                off, n = self.random_range(rng, f)
                rec["off"], rec["size"] = off, n
                got = self.syscall(tid, rec, "pread", os.pread, fd, n, off)
                if not self.check(rec, f, off, got, n) or rec.get("res") == "short":
                    return
        finally:
            os.close(fd)

    def op_sequential(self, rng, tid, mnt, rec):
        """A whole file, front to back, in chunks of one size (what cat or a loader does)."""
        f = self.pick_file(rng, "sequential")
        chunk = rng.choice([4096, 65536, 128 * 1024, MiB, 4 * MiB])
        path = os.path.join(mnt, f["path"])
        self.start(rec, f["path"], 0, f["size"])
        fd = self.syscall(tid, rec, "open", os.open, path, os.O_RDONLY)
        try:
            off = 0
            while True:
                rec["off"] = off
                got = self.syscall(tid, rec, "read", os.read, fd, chunk)
                if not got:
                    break
                if not self.check(rec, f, off, got, len(got)):
                    return
                off += len(got)
            rec["off"] = 0
            if off != f["size"]:
                rec["res"] = "wrong"
                rec["detail"] = {"eof_at": off, "want_len": f["size"]}
        finally:
            os.close(fd)

    def op_open_close(self, rng, tid, mnt, rec):
        """open, one small read, close at once (the reply and the release cross)."""
        f = self.pick_file(rng, "open_close")
        off, _ = self.random_range(rng, f)
        n = rng.choice([1, 4096, 128 * 1024])
        self.start(rec, f["path"], off, n)
        fd = self.syscall(tid, rec, "open", os.open, os.path.join(mnt, f["path"]), os.O_RDONLY)
        try:
            got = self.syscall(tid, rec, "pread", os.pread, fd, n, off)
        finally:
            os.close(fd)
        self.check(rec, f, off, got, n)

    def op_storm(self, rng, tid, mnt, rec):
        """The use-after-free pattern: open, pread 4 x 1 MiB at a random offset, close."""
        f = self.pick_file(rng, "storm")
        off = rng.randrange(0, max(1, f["size"] - 4 * MiB))
        self.start(rec, f["path"], off, 4 * MiB)
        fd = self.syscall(tid, rec, "open", os.open, os.path.join(mnt, f["path"]), os.O_RDONLY)
        try:
            for i in range(4):
                at = off + i * MiB
                rec["off"] = at
                got = self.syscall(tid, rec, "pread", os.pread, fd, MiB, at)
                if not self.check(rec, f, at, got, MiB) or rec.get("res") == "short":
                    return
        finally:
            os.close(fd)

    def op_mmap(self, rng, tid, mnt, rec):
        """mmap the file and copy a few slices (a failed read is a SIGBUS: this process
        dies, and the parent blames the op announced last)."""
        f = self.pick_file(rng, "mmap")
        self.start(rec, f["path"], None, None)
        fd = self.syscall(tid, rec, "open", os.open, os.path.join(mnt, f["path"]), os.O_RDONLY)
        try:
            m = self.syscall(tid, rec, "mmap", lambda: mmap.mmap(fd, 0, prot=mmap.PROT_READ))
            try:
                for _ in range(rng.randrange(1, 4)):
                    off, n = self.random_range(rng, f)
                    off = min(off, f["size"] - 1)
                    n = min(n, f["size"] - off)
                    rec["off"], rec["size"] = off, n
                    emit({"k": "begin", "w": self.name, "pid": os.getpid(), "tid": tid,
                          "op": "mmap", "mnt": rec["mnt"], "path": f["path"], "off": off,
                          "size": n, "t0": time.monotonic()})
                    got = self.syscall(tid, rec, "mmap-copy", lambda: m[off:off + n])
                    if not self.check(rec, f, off, got, n):
                        return
            finally:
                m.close()
        finally:
            os.close(fd)

    def op_stat(self, rng, tid, mnt, rec):
        f = self.pick_file(rng, "stat")
        self.start(rec, f["path"])
        st = self.syscall(tid, rec, "stat", os.stat, os.path.join(mnt, f["path"]))
        if st.st_size != f["size"] or not (st.st_mode & 0o100000):
            rec.update(res="meta", detail=f"size {st.st_size} mode {st.st_mode:o}, "
                                          f"want size {f['size']}")

    def op_missing(self, rng, tid, mnt, rec):
        """A name that is not there: ENOENT, nothing else."""
        d, _ = rng.choice(self.dirs)
        name = os.path.join(d, f"no-such-{rng.randrange(1000)}")
        self.start(rec, name)
        try:
            self.syscall(tid, rec, "stat", os.stat, os.path.join(mnt, name))
            rec.update(res="meta", detail="exists")
        except FileNotFoundError:
            pass

    def op_listdir(self, rng, tid, mnt, rec):
        d, names = rng.choice(self.dirs)
        self.start(rec, d or ".")
        got = self.syscall(tid, rec, "readdir", os.listdir, os.path.join(mnt, d))
        if sorted(got) != sorted(names):
            rec.update(res="meta", detail={"got": sorted(got)[:20], "want": sorted(names)[:20]})

    def op_xattr(self, rng, tid, mnt, rec):
        f = self.pick_file(rng, "xattr")
        self.start(rec, f["path"])
        v = self.syscall(tid, rec, "getxattr", os.getxattr, os.path.join(mnt, f["path"]),
                         "user.datumfs.cached_bytes")
        try:
            n = int(v)
        except ValueError:
            n = -1
        if not 0 <= n <= f["size"]:
            rec.update(res="meta", detail=f"cached_bytes {v!r} of a {f['size']}-byte file")

    def run(self):
        threading.Thread(target=self.watchdog, daemon=True).start()
        threads = [threading.Thread(target=self.run_thread, args=(i,))
                   for i in range(self.c["threads"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        emit({"k": "done", "w": self.name, "pid": os.getpid()})


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    name = sys.argv[2]
    overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    config.update(overrides)
    Worker(config, name).run()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
