"""A fault-injecting HTTP proxy between datumfs and the nginx store, on 127.0.0.1.

Each request is forwarded to nginx (Range and all) unless the proxy is told to misbehave:
`proxy.fail(mode, times)` makes the next `times` requests fail in that way (times=None: all of
them), after which it forwards faithfully again. It records every request it saw."""

import http.client
import socket
import socketserver
import struct
import threading
import time

MODES = ("reset", "status_500", "status_503", "throttle", "stall", "truncate", "long_body",
         "wrong_range", "ignore_range", "error_page_200", "changed_etag")
ERROR_PAGE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n"


class FaultProxy:
    def __init__(self, upstream_port, stall_seconds=30):
        self.upstream_port = upstream_port
        self.stall_seconds = stall_seconds
        self.mode = None
        self.remaining = 0
        self.planned = []  # modes for the next requests, one each, before `mode`
        self.lock = threading.Lock()
        self.seen = []  # (time, mode or "ok", path, range)
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while outer.serve_one(self):
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, store_url):
        """The same signed URL, through the proxy."""
        return store_url.replace(f":{self.upstream_port}/", f":{self.port}/")

    def fail(self, mode, times=1):
        assert mode in MODES
        with self.lock:
            self.mode, self.remaining = mode, times

    def plan(self, modes):
        """The next len(modes) requests fail each in its own way ("ok": forwarded)."""
        assert all(m in MODES + ("ok",) for m in modes)
        with self.lock:
            self.planned = list(modes)

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
            if self.planned:
                mode = self.planned.pop(0)
                mode = None if mode == "ok" else mode
            else:
                mode = self.mode if self.remaining is None or self.remaining > 0 else None
                if mode and self.remaining is not None:
                    self.remaining -= 1
        self.seen.append((time.monotonic(), mode or "ok", path, headers.get("range", "")))
        status, resp_headers, body = self.upstream(method, path, headers)
        return self.respond(h, mode, status, resp_headers, body, headers.get("range", ""))

    def upstream(self, method, path, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        fwd = {k: v for k, v in headers.items() if k in ("range", "if-match", "user-agent")}
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
        if mode == "error_page_200":  # a proxy's error page, sent as a success
            self.send_head(h, 200, [("Content-Type", "text/html"),
                                    ("Content-Length", str(len(ERROR_PAGE)))])
            h.wfile.write(ERROR_PAGE)
            return True
        if mode == "changed_etag":  # the same bytes, said to be another version
            self.send_head(h, status, without("etag") + [("ETag", '"another-version"')])
            h.wfile.write(body)
            return True
        if mode == "throttle":
            self.send_head(h, 429, [("Retry-After", "1"), ("Content-Length", "0")])
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
