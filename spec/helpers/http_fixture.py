#!/usr/bin/env python3
"""A small HTTP/1.1 server for spec/20-core_http_spec.lua (keep-alive, Content-Length).

Binds 127.0.0.1 on a free port and prints one line "<port> <pid> <closed_port>" on stdout, where
closed_port is a port that was free a moment ago (nothing listens there). The spec kills the
server by pid; as a safety net it also exits after --lifetime seconds.

Routes (GET):
  /json                  a JSON document
  /gzip                  JSON, gzip-encoded when the request's Accept-Encoding allows it; the
                         body reports the Accept-Encoding the server saw
  /slow?s=SECONDS        sleeps, then JSON
  /status/NNN            that status, JSON body
  /headers               the request headers as JSON (lower-case names)
  /redirect?to=URL       302 to URL
  /big?n=BYTES           n bytes of 'x'
  /drop                  closes the connection without a response
  /folded                a response with odd header lines (spaces, case, duplicates)
"""
import argparse
import gzip
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with Content-Length

    def log_message(self, *args):
        pass

    def send_body(self, status, body, ctype="application/json", extra=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, value, extra=()):
        self.send_body(status, json.dumps(value), extra=extra)

    def do_GET(self):
        parts = urlsplit(self.path)
        q = parse_qs(parts.query)
        path = parts.path
        try:
            if path == "/json":
                self.send_json(200, {"ok": True, "n": 42, "items": [1, 2, 3], "name": "caf\u00e9",
                                     "none": None},
                               extra=[("X-Fixture", "  padded value  ")])
            elif path == "/gzip":
                ae = self.headers.get("Accept-Encoding", "")
                doc = json.dumps({"accept_encoding": ae, "items": list(range(100))}).encode()
                if "gzip" in ae:
                    self.send_body(200, gzip.compress(doc), extra=[("Content-Encoding", "gzip")])
                else:
                    self.send_body(200, doc)
            elif path == "/slow":
                time.sleep(float(q.get("s", ["1"])[0]))
                self.send_json(200, {"slept": float(q.get("s", ["1"])[0])})
            elif path.startswith("/status/"):
                code = int(path[len("/status/"):])
                self.send_json(code, {"detail": "status %d" % code})
            elif path == "/headers":
                self.send_json(200, {k.lower(): v for k, v in self.headers.items()})
            elif path == "/redirect":
                self.send_body(302, "", ctype="text/plain", extra=[("Location", q["to"][0])])
            elif path == "/big":
                self.send_body(200, b"x" * int(q.get("n", ["1000"])[0]), ctype="text/plain")
            elif path == "/drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif path == "/folded":
                self.send_response(200)
                self.send_header("X-Multi", "first")
                self.send_header("X-Multi", "second")
                self.send_header("X-CaSe", "MiXeD")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            else:
                self.send_json(404, {"detail": "not found"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=300.0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    sys.stdout.write("%d %d %d\n" % (server.server_address[1], os.getpid(), free_port()))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
