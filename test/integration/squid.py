"""A real HTTP proxy for tests: squid on 127.0.0.1, in the foreground, with a configuration of
its own. mode "open" tunnels everything; "auth" wants user alice with password s3cret (basic
authentication); "deny" refuses every request."""

import os
import shutil
import subprocess
import tempfile

from store import free_port, stop_process, wait_listening

USER, PASSWORD = "alice", "s3cret"

CONF = """
http_port 127.0.0.1:{port}
pid_filename {dir}/squid.pid
access_log stdio:{dir}/access.log
cache_log {dir}/cache.log
coredump_dir {dir}
cache deny all
cache_mem 8 MB
pinger_enable off
shutdown_lifetime 0 seconds
{access}
"""

ACCESS = {
    "open": "http_access allow all",
    "auth": ("auth_param basic program /usr/lib/squid/basic_ncsa_auth {dir}/passwd\n"
             "acl authed proxy_auth REQUIRED\n"
             "http_access allow authed\n"
             "http_access deny all"),
    "deny": "http_access deny all",
}


def squid_binary():
    return shutil.which("squid") or ("/usr/sbin/squid" if os.path.exists("/usr/sbin/squid")
                                     else None)


class Squid:
    def __init__(self, mode="open"):
        self.mode = mode
        # Not under pytest's 0700 tree: squid's helpers run as its own user and read from here.
        self.dir = tempfile.mkdtemp(prefix="datumfs-squid-")
        os.chmod(self.dir, 0o777)
        self.port = None
        self.proc = None

    def start(self):
        hashed = subprocess.run(["openssl", "passwd", "-apr1", PASSWORD], check=True,
                                capture_output=True, text=True).stdout.strip()
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write(f"{USER}:{hashed}\n")
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)
        self.port = free_port()
        conf = os.path.join(self.dir, "squid.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(port=self.port, dir=self.dir,
                                access=ACCESS[self.mode].format(dir=self.dir)))
        with open(os.path.join(self.dir, "stderr.log"), "wb") as err:
            self.proc = subprocess.Popen([squid_binary(), "-N", "-f", conf],
                                         stdout=subprocess.DEVNULL, stderr=err)
        if wait_listening(self.proc, self.port, 20):
            return self
        self.stop()
        raise RuntimeError("squid did not start: " + self.log("cache.log") + self.log("stderr.log"))

    def url(self, user=None, password=None):
        credentials = f"{user}:{password}@" if user else ""
        return f"http://{credentials}127.0.0.1:{self.port}"

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def requests(self):
        """(result code, method, target) per request, e.g. ("TCP_TUNNEL/200", "CONNECT",
        "127.0.0.1:443"). squid writes a line when the request ends."""
        out = []
        for line in self.log("access.log").splitlines():
            f = line.split()
            if len(f) >= 7:
                out.append((f[3], f[5], f[6]))
        return out

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
