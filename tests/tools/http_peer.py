#!/usr/bin/env python3
"""A loopback HTTP peer for the HTTP client's tests.

PUT  /upload           reads the body (sized or chunked), answers {"bytes": N, "sha256": "..."}
GET  /download?bytes=N  streams N bytes of the pattern byte(i) = i * 7 % 251, in 64 KiB writes
GET  /refuse           answers 409 with {"message": "the peer refuses: volume is in use"}
GET  /busy             answers 503 with a text body
GET  /html             answers 500 with an HTML page
GET  /hang             answers 200 only after a minute

Usage: http_peer.py PORT_FILE   (binds 127.0.0.1 on a free port and writes the port there)
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

PATTERN = bytes(i * 7 % 251 for i in range(251 * 262))  # whole periods, more than one write


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body_pieces(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 16))
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        while left:
            piece = self.rfile.read(min(left, 1 << 16))
            if not piece:
                return
            left -= len(piece)
            yield piece

    def do_PUT(self):
        if self.path != "/upload":
            return self.answer(404, '{"message": "no such place"}')
        digest, count = hashlib.sha256(), 0
        for piece in self.body_pieces():
            digest.update(piece)
            count += len(piece)
        self.answer(200, json.dumps({"bytes": count, "sha256": digest.hexdigest()}))

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/download":
            total = int(parse_qs(url.query)["bytes"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            sent = 0
            while sent < total:
                # the pattern's period is 251: each write starts where the last ended
                start = sent % 251
                piece = PATTERN[start:start + min(total - sent, 65536)]
                self.wfile.write(piece)
                sent += len(piece)
        elif url.path == "/refuse":
            self.answer(409, '{"message": "the peer refuses: volume is in use"}')
        elif url.path == "/html":
            self.answer(500, "<html><body><h1>500 Internal Server Error</h1></body></html>\n", "text/html")
        elif url.path == "/busy":
            self.answer(503, "the peer is busy, come back later\n", "text/plain")
        elif url.path == "/hang":
            # answers only after a minute: a request that ends sooner was stopped
            time.sleep(60)
            self.answer(200, '{"message": "too late"}')
        else:
            self.answer(404, '{"message": "no such place"}')


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early (a test's failing sink) is expected


def main():
    server = Server(("127.0.0.1", 0), Handler)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, sys.argv[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # ends with its parent (the test), which closes our stdin
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
