"""What the tests' small HTTP servers share: serving a handler on 127.0.0.1 from a thread."""

import http.server
import threading


class BackgroundServer:
    def serve(self, handler):
        """Starts serving `handler` (a BaseHTTPRequestHandler class) on an ephemeral port."""
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
