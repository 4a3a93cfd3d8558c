"""A webhook receiver for Basalt's tests: every POST is verified with the
`standardwebhooks` package (the reference implementation of the Standard
Webhooks specification) and kept; GET /log lists what arrived.

Paths choose the answer: /ok 200; /flaky 500 to the first try of an
event, then 200; /slow sleeps past the sender's timeout on the first try,
then 200; /gone 410; /redirect 302 to /ok.

Usage: python3 receiver.py SECRET  (prints "listening on PORT")
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = sys.argv[1]
VERIFIER = Webhook(SECRET)
LOG = []
SEEN = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/log":
            with LOCK:
                body = json.dumps(LOG).encode()
            self.answer(200, body, [("content-type", "application/json")])
        else:
            self.answer(404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()}
        try:
            payload = VERIFIER.verify(body, headers)
            verified = True
        except WebhookVerificationError as e:
            payload = None
            verified = str(e)
        event_id = headers.get("webhook-id") or headers.get("Webhook-Id")
        with LOCK:
            tries = SEEN.get((self.path, event_id), 0) + 1
            SEEN[(self.path, event_id)] = tries
            LOG.append({"path": self.path, "id": event_id, "try": tries,
                        "verified": verified, "payload": payload})
        if self.path == "/ok":
            self.answer(200, b"thanks")
        elif self.path == "/flaky":
            self.answer(500 if tries == 1 else 200, b"try again" if tries == 1 else b"ok")
        elif self.path == "/slow":
            if tries == 1:
                time.sleep(3)
            self.answer(200, b"ok")
        elif self.path == "/gone":
            self.answer(410, b"gone")
        elif self.path == "/redirect":
            self.answer(302, b"", [("location", "/ok")])
        else:
            self.answer(404)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
