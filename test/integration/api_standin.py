"""A stand-in for Valohai's input_request API (shared/seeds/000), on 127.0.0.1.

POST /request-input-data/?execution=<id>&input=<input_id> with the header
`Authorization: Execution-Token <token>` answers
[ { "name", "files": [ { "filename", "original_uri", "url", "input_id", ... } ] } ]
with freshly signed store URLs. It checks the token, counts refreshes per input, and can be
told to fail: mode "status_500", "bad_json", or stopped altogether."""

import http.server
import json
import urllib.parse

from http_stub import BackgroundServer

TOKEN = "SECRET-EXECUTION-TOKEN-42"


class ApiStandIn(BackgroundServer):
    def __init__(self, store, inputs_doc, lifetime=3600):
        """inputs_doc: the inputs.json written by store.write_inputs. Served over HTTPS, with
        the store's certificate, when the store is."""
        self.store = store
        self.lifetime = lifetime
        self.mode = "ok"
        self.refreshes = {}  # input_id -> count
        self.unauthorized = 0
        self.by_id = {v["input_id"]: (name, v["files"]) for name, v in inputs_doc.items()}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.handle(self)

        self.serve(Handler, tls=getattr(store, "tls", None))

    def api_json(self, path, token=TOKEN):
        with open(path, "w") as f:
            json.dump({"input_request": {
                "method": "POST",
                "url": f"{self.scheme}://127.0.0.1:{self.port}/request-input-data/?execution=exec-1",
                "headers": {"Authorization": f"Execution-Token {token}"}}}, f)
        return path

    def next_mode(self):
        """How to answer this request; subclasses may draw it at random."""
        return self.mode

    def handle(self, h):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
        if h.headers.get("Authorization") != f"Execution-Token {TOKEN}":
            self.unauthorized += 1
            return self.reply(h, 401, b'{"detail": "bad token"}')
        input_id = query.get("input", [""])[0]
        if input_id not in self.by_id or query.get("execution") != ["exec-1"]:
            return self.reply(h, 404, b"[]")
        self.refreshes[input_id] = self.refreshes.get(input_id, 0) + 1
        mode = self.next_mode()
        if mode == "status_500":
            return self.reply(h, 500, b"oops")
        if mode == "bad_json":
            return self.reply(h, 200, b'[{"name": "x", "files": [')
        name, files = self.by_id[input_id]
        answer = [{"name": name, "files": [{
            "filename": f["name"],
            "original_uri": f.get("uri"),
            "url": self.store.url(f"{name}/{f['name']}", expires_in=self.lifetime),
            "input_id": input_id,
            "metadata": {},
            "download_intent": "on-demand"} for f in files]}]
        self.reply(h, 200, json.dumps(answer).encode())

    def reply(self, h, status, body):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
