"""A fault-injecting HTTP proxy between datumfs and the nginx store, on 127.0.0.1.

Each request is forwarded to nginx (Range and all) unless the proxy is told to misbehave:
`proxy.fail(mode, times)` makes the next `times` requests fail in that way (times=None: all of
them), after which it forwards faithfully again. `proxy.randomize(rng, {mode: probability})`
instead draws a mode (or none) for every request from a seeded RNG, until `randomize(None)`.
`rewrite` (a function of the request path) may map a path to the upstream one. With
`site_cache` it stands in for a site cache node (doc/site-cache.md) that caches nothing: the
path it asks the upstream for is that of the URL in the request's X-Datumfs-Url header. `tls`, a
(certificate, key) pair, makes it speak HTTPS to its clients (and plain HTTP to nginx). It
records every request it saw."""

import http.client
import random
import socket
import socketserver
import ssl
import struct
import threading
import time
import urllib.parse

MODES = ("reset", "status_500", "status_503", "throttle", "stall", "truncate", "long_body",
         "wrong_range", "ignore_range",
         # a 200 whose body is a short HTML error page (with its own, short, Content-Length)
         "error_page_200",
         # the right bytes under another ETag (only to requests that send If-Match, so the
         # ETag a client records first stays the real one)
         "changed_etag",
         # a 302 to the very same URL
         "redirect",
         # the first half of the body, a pause of `short_stall_seconds`, then the rest
         "stall_short")

ERROR_PAGE = (b"<html><head><title>503 Service Temporarily Unavailable</title></head>\r\n"
              b"<body><center><h1>503 Service Temporarily Unavailable</h1></center></body>"
              b"</html>\r\n")


class FaultProxy:
    def __init__(self, upstream_port, stall_seconds=30, short_stall_seconds=0.5, rewrite=None,
                 tls=None, site_cache=False):
        self.upstream_port = upstream_port
        self.scheme = "https" if tls else "http"
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        self.stall_seconds = stall_seconds
        self.short_stall_seconds = short_stall_seconds
        self.rewrite = rewrite
        self.site_cache = site_cache
        self.mode = None
        self.remaining = 0
        self.planned = []  # modes for the next requests, one each, before all else
        self.rng = None
        self.probabilities = ()
        self.lock = threading.Lock()
        self.seen = []  # (time, mode or "ok", path, range)
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self):  # the handshake, before the streams are made on the socket
                self.handshake_failed = False
                if context:
                    try:
                        self.request = context.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):
                        self.handshake_failed = True  # a client that went away, or gave up
                super().setup()

            def handle(self):
                if self.handshake_failed:
                    return
                try:
                    while outer.serve_one(self):
                        pass
                except (ConnectionError, TimeoutError, ssl.SSLError):
                    pass  # the client went away (a daemon killed, a transfer given up)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, store_url):
        """The same signed URL, through the proxy."""
        url = store_url.replace(f":{self.upstream_port}/", f":{self.port}/")
        return self.scheme + url[url.index("://"):]

    def fail(self, mode, times=1):
        assert mode in MODES
        with self.lock:
            self.mode, self.remaining = mode, times

    def plan(self, modes):
        """The next len(modes) requests fail each in its own way ("ok": forwarded)."""
        assert all(m in MODES + ("ok",) for m in modes)
        with self.lock:
            self.planned = list(modes)

    def randomize(self, rng, probabilities=None):
        """Per request, mode m with probability probabilities[m] (their sum at most 1), drawn
        from `rng` (a random.Random); rng=None stops it."""
        assert rng is None or isinstance(rng, random.Random)
        probabilities = probabilities or {}
        assert all(m in MODES for m in probabilities) and sum(probabilities.values()) <= 1
        with self.lock:
            self.rng, self.probabilities = rng, tuple(probabilities.items())

    def draw(self):
        """The mode for the next request (None: forward it faithfully). Under self.lock."""
        if self.planned:
            mode = self.planned.pop(0)
            return None if mode == "ok" else mode
        if self.remaining is None or self.remaining > 0:
            if self.mode and self.remaining is not None:
                self.remaining -= 1
            return self.mode
        if self.rng is None:
            return None
        x = self.rng.random()
        for mode, p in self.probabilities:
            if x < p:
                return mode
            x -= p
        return None

    def faults_seen(self):
        return [s for s in self.seen if s[1] != "ok"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # One request on a connection; returns False to close the connection.
    def serve_one(self, h):
        request_line = h.rfile.readline()
        if not request_line:
            return False
        method, path, _ = request_line.decode().split(" ", 2)
        headers = {}
        while (line := h.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        with self.lock:
            mode = self.draw()
        if mode == "changed_etag" and "if-match" not in headers:
            mode = None
        self.seen.append((time.monotonic(), mode or "ok", path, headers.get("range", "")))
        if mode == "redirect":
            host = headers.get("host", f"127.0.0.1:{self.port}")
            self.send_head(h, 302, [("Location", f"{self.scheme}://{host}{path}"),
                                    ("Content-Length", "0")])
            return True
        if self.site_cache and "x-datumfs-url" in headers:
            url = urllib.parse.urlsplit(headers["x-datumfs-url"])
            path = url.path + (f"?{url.query}" if url.query else "")
        upstream_path = self.rewrite(path) if self.rewrite else path
        try:
            status, resp_headers, body = self.upstream(method, upstream_path, headers)
        except OSError:
            return False  # the upstream is gone (the test is ending): drop the connection
        return self.respond(h, mode, status, resp_headers, body, headers.get("range", ""))

    def upstream(self, method, path, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        fwd = {k: v for k, v in headers.items() if k in ("range", "if-match", "user-agent",
                                                            "x-datumfs-url")}
        conn.request(method, path, headers=fwd)
        r = conn.getresponse()
        body = r.read()
        out = [(k, v) for k, v in r.getheaders() if k.lower() not in ("connection", "keep-alive")]
        conn.close()
        return r.status, out, body

    def send_head(self, h, status, headers):
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
        h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def respond(self, h, mode, status, headers, body, range_header):
        def header(name):
            return next((v for k, v in headers if k.lower() == name), None)

        def without(*names):
            return [(k, v) for k, v in headers if k.lower() not in names]

        if mode in ("status_500", "status_503"):
            self.send_head(h, int(mode[-3:]), [("Content-Length", "0")])
            return True
        if mode == "throttle":
            self.send_head(h, 429, [("Retry-After", "1"), ("Content-Length", "0")])
            return True
        if mode == "error_page_200":
            self.send_head(h, 200, [("Content-Type", "text/html"),
                                    ("Content-Length", str(len(ERROR_PAGE)))])
            h.wfile.write(ERROR_PAGE)
            return True
        if mode == "changed_etag" and header("etag"):
            self.send_head(h, status, without("etag") + [("ETag", '"changed-0000"')])
            h.wfile.write(body)
            return True
        if mode == "stall_short":
            self.send_head(h, status, headers)
            h.wfile.write(body[:len(body) // 2])
            h.wfile.flush()
            time.sleep(self.short_stall_seconds)
            h.wfile.write(body[len(body) // 2:])
            return True
        if mode == "reset" or mode == "truncate" or mode == "stall":
            self.send_head(h, status, headers)
            h.wfile.write(body[:len(body) // 2])
            h.wfile.flush()
            if mode == "stall":
                time.sleep(self.stall_seconds)
            if mode == "reset":  # RST instead of FIN
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
            return False
        if mode == "long_body":
            self.send_head(h, status, without("content-length") +
                           [("Content-Length", str(len(body) + 1000))])
            h.wfile.write(body + b"x" * 1000)
            return True
        if mode == "wrong_range" and status == 206:
            first, rest = header("content-range").split(" ")[1].split("-")
            last, total = rest.split("/")
            bad = f"bytes {int(first) + 1}-{int(last) + 1}/{total}"
            self.send_head(h, 206, without("content-range") + [("Content-Range", bad)])
            h.wfile.write(body)
            return True
        if mode == "ignore_range":  # a 200 with a body that is not the whole object
            self.send_head(h, 200, without("content-range"))
            h.wfile.write(body)
            return True
        self.send_head(h, status, headers)
        h.wfile.write(body)
        return True
