"""A site cache node for the tests: a real nginx running the SHIPPED
packaging/site-cache/datumfs-site-cache.conf, with only the operator's settings (the lines marked
"OPERATOR:") changed, each an exact string of the shipped file that must occur there once."""

import http.client
import os
import re
import shutil
import subprocess

from store import free_port, nginx_conf, stop_process, wait_listening

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "packaging", "site-cache")
MIB = 1 << 20
SLICE = 8 * MIB


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


class SiteCache:
    """nginx running the shipped datumfs-site-cache.conf. origins: the lines of origins.map;
    clients: of clients.conf (None: the shipped files themselves)."""

    def __init__(self, directory, origins=("127.0.0.1 1;",), clients=("allow 127.0.0.1;",
                                                                       "deny all;"), tls=None):
        self.dir = directory
        self.cache = os.path.join(directory, "cache")
        os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)
        self.origins = os.path.join(SHIPPED, "origins.map")
        self.clients = os.path.join(SHIPPED, "clients.conf")
        if origins is not None:
            self.origins = self.write("origins.map", origins)
        if clients is not None:
            self.clients = self.write("clients.conf", clients)
        self.port = None
        self.proc = None
        self.tls = tls  # (certificate, key): the workers connect with HTTPS

    def write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def substitutions(self):
        """{exact text of the shipped file: the test's}: the operator settings, nothing else."""
        return {
            "listen 8380;": (f"listen 127.0.0.1:{self.port} ssl; ssl_certificate {self.tls[0]}; "
                             f"ssl_certificate_key {self.tls[1]};" if self.tls else
                             f"listen 127.0.0.1:{self.port};"),
            "/var/cache/nginx/datumfs-site-cache ": self.cache + " ",
            "min_free=20g": "min_free=100m",  # the test machine's disk may have less free
            "/var/log/nginx/datumfs-site-cache.access.log": os.path.join(self.dir,
                                                                         "access.log"),
            "/etc/nginx/datumfs-site-cache/origins.map": self.origins,
            "/etc/nginx/datumfs-site-cache/clients.conf": self.clients,
            # No DNS server is asked for a host given as an IP address (all the tests'):
            # substituted only to show that the resolver is the operator's setting.
            "resolver 127.0.0.53 ": "resolver 127.0.0.1 ",
        }

    def write_conf(self):
        with open(os.path.join(SHIPPED, "datumfs-site-cache.conf")) as f:
            text = f.read()
        for shipped, ours in self.substitutions().items():
            assert text.count(shipped) == 1, f"the shipped file has no single {shipped!r}"
            text = text.replace(shipped, ours)
        with open(os.path.join(self.dir, "datumfs-site-cache.conf"), "w") as f:
            f.write(text)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            # Included in http {}, as Debian's nginx.conf includes conf.d/*.conf.
            f.write(nginx_conf(self.dir, f"  include {self.dir}/datumfs-site-cache.conf;",
                               workers=2, log_level="info", connections=256))
        return conf

    def check(self):
        """`nginx -t` of the configuration: the CompletedProcess."""
        self.port = self.port or free_port()
        return subprocess.run([nginx_binary(), "-t", "-c", self.write_conf(), "-p", self.dir],
                              capture_output=True, text=True)

    def start(self, port=None):
        """On `port` (again, after stop()), or a free one."""
        for _ in range(5):
            self.port = port or free_port()
            self.proc = subprocess.Popen([nginx_binary(), "-c", self.write_conf(), "-p",
                                          self.dir], stderr=subprocess.PIPE)
            if wait_listening(self.proc, self.port, 10):
                return self
            self.stop()
        raise RuntimeError("nginx did not start: " +
                           open(os.path.join(self.dir, "error.log")).read())

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def get(self, url, first=None, last=None, path="/datum/key", source="127.0.0.1",
            method="GET", headers=None):
        """One request for `url` (None: no X-Datumfs-Url header), bytes first..last (last
        None: to the end; first None: no Range). Returns (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(source, 0))
        headers = dict(headers or {})
        if url is not None:
            headers["X-Datumfs-Url"] = url
        if first is not None:
            headers["Range"] = f"bytes={first}-{'' if last is None else last}"
        try:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def cached_files(self):
        return [os.path.join(d, n) for d, _, names in os.walk(self.cache) for n in names]

    def log(self):
        with open(os.path.join(self.dir, "access.log")) as f:
            return f.read()


LOG_LINE = re.compile(r'"(\w+) (\S+) \S+" (\d+) (\d+) "([^"]*)" cache=(\S+)')


def log_entries(text):
    """The access log's requests: [(path, status, body bytes, Range, cache status)]."""
    return [(m[2], int(m[3]), int(m[4]), m[5], m[6]) for m in LOG_LINE.finditer(text)]
