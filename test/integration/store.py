"""A real object store for tests: nginx on 127.0.0.1 serving files through secure_link
signed, expiring URLs (the shape of a pre-signed S3 URL: the signature in the query string).
Also helpers to write an inputs.json for the files it holds."""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

SECRET = "datumfs-test-secret"
LOG_FORMAT = ('$request_method $uri $status $body_bytes_sent "$http_range" $connection '
              '$msec $request_time $ssl_protocol $ssl_session_reused $server_protocol')

def nginx_conf(directory, http, workers=1, log_level="warn", connections=512):
    """A whole nginx.conf for an nginx of a test's own: root, in the foreground, its pid file,
    error log and temporary files under `directory` (the defaults are system paths); `http`:
    the lines of its http {} block."""
    d = directory
    return (f"daemon off;\nmaster_process on;\nworker_processes {workers};\nuser root;\n"
            f"pid {d}/nginx.pid;\nerror_log {d}/error.log {log_level};\n"
            f"events {{ worker_connections {connections}; }}\n"
            f"http {{\n  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;\n"
            f"  fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi;\n"
            f"  scgi_temp_path {d}/tmp/scgi;\n{http}\n}}\n")


# The store's http {} block.
HTTP = """
  log_format store '{log_format}';
  access_log {dir}/access.log store;
  keepalive_requests 100000;
  {keepalive}
  server {{
    listen 127.0.0.1:{port}{ssl};
    {certificate}
    location /data/ {{
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires$uri {secret}";
      if ($secure_link = "") {{ return 403; }}
      if ($secure_link = "0") {{ return 403; }}
      root {dir}/root;
      {limit}
    }}
    # Objects named by the query string, as some stores and download endpoints do:
    # /download?k=NAME and /versioned/NAME?versionId=N serve objects/NAME and objects/NAME.vN.
    location = /download {{
      if ($arg_k !~ "^[A-Za-z0-9._-]+$") {{ return 404; }}
      rewrite ^ /objects/$arg_k break;
      root {dir}/root;
    }}
    location = /redirect-to-file {{ return 302 file:///etc/passwd; }}
    location /versioned/ {{
      rewrite ^/versioned/([A-Za-z0-9._-]+)$ /objects/$1.v$arg_versionId break;
      root {dir}/root;
    }}
  }}
"""


def stop_process(proc):
    """SIGTERM, then SIGKILL after 10 s; None or an ended process is fine."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_listening(proc, port, limit):
    """True once 127.0.0.1:port accepts connections; False if `proc` ends or `limit` seconds
    pass first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Store:
    def __init__(self, directory, rate_per_connection=None, ranges=True, tls=None,
                 keepalive=True, http2=False):
        """rate_per_connection: nginx's limit_rate ("20m"), to make transfers take a while.
        ranges=False: a server that ignores Range (200 with the whole body: max_ranges 0).
        tls: (certificate, key) files: HTTPS with them (tls.Certs makes some).
        keepalive=False: a new connection for every request (keepalive_timeout 0).
        http2: offer HTTP/2 too (ALPN; needs tls), as GCS and Azure Blob do."""
        self.keepalive = "" if keepalive else "keepalive_timeout 0;"
        self.tls = tls
        self.http2 = http2
        self.scheme = "https" if tls else "http"
        self.dir = directory
        self.limit = f"limit_rate {rate_per_connection};" if rate_per_connection else ""
        if not ranges:
            self.limit += " max_ranges 0;"
        self.root = os.path.join(directory, "root", "data")
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)
        self.proc = None
        self.port = None
        self.secret = SECRET

    def start(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        for _ in range(5):
            self.port = free_port()
            conf = self.write_conf()
            self.proc = subprocess.Popen([nginx, "-c", conf, "-p", self.dir],
                                         stderr=subprocess.PIPE)
            if wait_listening(self.proc, self.port, 10):
                return self
            self.stop()
        raise RuntimeError("nginx did not start: " + open(os.path.join(self.dir, "error.log")).read())

    def write_conf(self):
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            certificate = ""
            if self.tls:
                certificate = (f"ssl_certificate {self.tls[0]}; "
                               f"ssl_certificate_key {self.tls[1]}; "
                               "ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:1m;")
            http = HTTP.format(dir=self.dir, port=self.port, secret=self.secret,
                               log_format=LOG_FORMAT, limit=self.limit, keepalive=self.keepalive,
                               ssl=(" ssl" if self.tls else "") + (" http2" if self.http2 else ""),
                               certificate=certificate)
            f.write(nginx_conf(self.dir, http))
        return conf

    def change_secret(self, secret, limit=10):
        """From now on only URLs signed with `secret` are served (the store's signing key was
        rotated): every URL handed out before is refused with 403. nginx reloads its
        configuration (SIGHUP) on the same port; returns once its new workers answer."""
        self.secret = secret
        self.write_conf()
        self.proc.send_signal(signal.SIGHUP)
        self.put(".secret-probe", b"")
        probe = self.url(".secret-probe")
        context = None
        if self.tls:  # our own probe of our own server: its certificate needs no check
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(probe, context=context, timeout=2).read()
                return
            except urllib.error.HTTPError as e:
                if e.code != 403:
                    raise
            time.sleep(0.05)
        raise RuntimeError("nginx did not take the new secret")

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    # Objects and URLs
    def put(self, key, data):
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return key

    def url(self, key, expires_in=3600, secret=None):
        """A signed URL of `key`, with the store's secret unless told another."""
        secret = secret or self.secret
        uri = "/data/" + key
        expires = int(time.time() + expires_in)  # an integer, also for a float lifetime
        digest = hashlib.md5(f"{expires}{uri} {secret}".encode()).digest()
        md5 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return f"{self.scheme}://127.0.0.1:{self.port}{uri}?md5={md5}&expires={expires}"

    def put_object(self, name, data):
        """An object served at /download?k=NAME (and /versioned/BASE?versionId=N for NAME
        "BASE.vN"); these URLs are not signed."""
        path = os.path.join(self.dir, "root", "objects", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    # The access log: one dict per request
    def log_size(self):
        try:
            return os.path.getsize(os.path.join(self.dir, "access.log"))
        except FileNotFoundError:
            return 0

    def mark(self):
        """A position in the access log after every request so far has been logged."""
        self.settle()
        return self.log_size()

    def settle(self, quiet=0.15, limit=3.0):
        """nginx logs a request after it has sent the response, so a client can finish before
        the line is written: wait until the log has not grown for `quiet` seconds."""
        deadline = time.time() + limit
        size = self.log_size()
        while time.time() < deadline:
            time.sleep(quiet)
            now = self.log_size()
            if now == size:
                return
            size = now

    def requests(self, since=0):
        self.settle()
        path = os.path.join(self.dir, "access.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            f.seek(since)
            lines = f.read().splitlines()
        out = []
        for line in lines:
            m = re.match(r'(\S+) (\S+) (\d+) (\d+) "(.*)" (\d+) ([\d.]+) ([\d.]+) (\S+) (\S+) '
                         r'(\S+)', line)
            if m:
                end = float(m[7])
                out.append({"method": m[1], "uri": m[2], "status": int(m[3]),
                            "body_bytes": int(m[4]), "range": m[5], "connection": int(m[6]),
                            "start": end - float(m[8]), "end": end,
                            "tls": m[9] if m[9] != "-" else None,  # TLSv1.3, or None
                            "session_reused": m[10] == "r",
                            "protocol": m[11]})  # HTTP/1.1, HTTP/2.0
        return out

    def bytes_sent(self, since=0):
        return sum(r["body_bytes"] for r in self.requests(since))


def write_inputs(path, store, inputs, **overrides):
    """inputs: {input name: [(name in input, bytes or None for "already stored", key)]}.
    Writes an inputs.json in the shape of the seed (shared/seeds/000)."""
    doc = {}
    for index, (input_name, files) in enumerate(inputs.items()):
        input_id = f"00000000-0000-4000-8000-{index:012d}"
        entries = []
        for name, data in files:
            key = f"{input_name}/{name}"
            store.put(key, data)
            # Like Valohai's datums: other bytes are another datum.
            datum = hashlib.sha1(key.encode() + hashlib.sha256(data).digest()).hexdigest()
            datum_id = f"{datum[:8]}-{datum[8:12]}-{datum[12:16]}-{datum[16:20]}-{datum[20:32]}"
            entries.append({
                "datum_id": datum_id,
                "download_intent": "on-demand",
                "input_id": input_id,
                "metadata": [{"valohai.dataset-versions": ["dataset://test/v1"]}],
                "name": name,
                "path": f"/valohai/inputs/{input_name}/{name}",
                "size": len(data),
                "storage_uri": store.url(key, **overrides),
                "uri": f"datum://{datum_id}",
                "checksums": {"sha256": hashlib.sha256(data).hexdigest()},
            })
        doc[input_name] = {"input_id": input_id, "files": entries}
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return doc
