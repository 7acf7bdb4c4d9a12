"""A small HTTP server that misbehaves on purpose, for the checks datumfs makes on every
response. It serves one object, answering range requests in the way `mode` says."""

import http.server
import re
import socket
import time

from http_stub import BackgroundServer


class Faulty(BackgroundServer):
    MODES = ("ok", "wrong_range", "ignore_range", "short_body", "long_body", "status_500",
             "stall")

    def __init__(self, data, mode):
        assert mode in self.MODES
        self.data = data
        self.mode = mode
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests += 1
                outer.respond(self)

        self.serve(Handler)

    def url(self, name="object"):
        return f"http://127.0.0.1:{self.port}/{name}?sig=FAULTYSECRET"

    def respond(self, h):
        m = re.match(r"bytes=(\d+)-(\d+)", h.headers.get("Range", ""))
        first, last = (int(m[1]), int(m[2])) if m else (0, len(self.data) - 1)
        body = self.data[first:last + 1]
        total = len(self.data)
        if self.mode == "stall":
            time.sleep(60)
            return
        if self.mode == "status_500":
            h.send_response(500)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if self.mode == "ignore_range":
            h.send_response(200)
            h.send_header("Content-Length", str(total))
            h.end_headers()
            h.wfile.write(self.data)
            return
        h.send_response(206)
        if self.mode == "wrong_range":
            h.send_header("Content-Range", f"bytes {first + 1}-{last + 1}/{total}")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(self.data[first + 1:last + 2].ljust(len(body), b"\0"))
            return
        h.send_header("Content-Range", f"bytes {first}-{last}/{total}")
        if self.mode == "short_body":
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:len(body) // 2])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.mode == "long_body":
            h.send_header("Content-Length", str(len(body) + 100))
            h.end_headers()
            h.wfile.write(body + b"x" * 100)
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
