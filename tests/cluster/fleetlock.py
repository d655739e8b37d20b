#!/usr/bin/env python3
"""A FleetLock server as the protocol describes it (coreos.github.io/zincati/development/
fleetlock/protocol), for tests: Flatcar's airlock cannot run here (no Go toolchain, no Debian
package). A counting semaphore per group with owned, recursive locks:

- POST /v1/pre-reboot  (RecursiveLock): 200 when the id holds a slot or takes a free one;
  else an error with a JSON body {"kind": ..., "value": ...}.
- POST /v1/steady-state (UnlockIfHeld): 200, the id's slot released if it held one.
- Every request must carry the header `fleet-lock-protocol: true` and the body
  {"client_params": {"id": ..., "group": ...}}.

Usage: fleetlock.py PORTFILE [SLOTS]: listens on a free loopback port, writes it to PORTFILE.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

SLOTS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
holders = {}  # group -> list of ids
mutex = Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, kind=None, value=None):
        body = b"" if kind is None else json.dumps({"kind": kind, "value": value}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.headers.get("fleet-lock-protocol") != "true":
            return self.answer(400, "missing_header", "fleet-lock-protocol: true is required")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            params = json.loads(self.rfile.read(length))["client_params"]
            ident, group = params["id"], params["group"]
        except (ValueError, KeyError, TypeError) as e:
            return self.answer(400, "bad_request", str(e))
        with mutex:
            held = holders.setdefault(group, [])
            if self.path == "/v1/pre-reboot":
                if ident in held:
                    return self.answer(200)
                if len(held) < SLOTS:
                    held.append(ident)
                    return self.answer(200)
                return self.answer(
                    409, "failed_lock", "semaphore full: held by " + ", ".join(held)
                )
            if self.path == "/v1/steady-state":
                if ident in held:
                    held.remove(ident)
                return self.answer(200)
        return self.answer(404, "not_found", self.path)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
