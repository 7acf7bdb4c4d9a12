"""What the tests' small HTTP servers share: serving a handler on 127.0.0.1 from a thread."""

import http.server
import ssl
import threading


class BackgroundServer:
    def serve(self, handler, tls=None):
        """Starts serving `handler` (a BaseHTTPRequestHandler class) on an ephemeral port;
        over HTTPS with `tls`, a (certificate, key) pair."""
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.scheme = "https" if tls else "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
