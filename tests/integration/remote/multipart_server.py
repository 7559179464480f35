"""A scripted S3 peer for the two calls the S3 test server does not answer:
ListMultipartUploads (GET bucket?uploads) and AbortMultipartUpload (DELETE
key?uploadId=). It serves the uploads listed in its state file (JSON: a
list of {"key", "id", "initiated"}), records every abort in the log file,
lists no objects, and refuses anything else with 501."""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

port, state_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Peer(BaseHTTPRequestHandler):
    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path.rstrip("/") != "/zb":
            return self.reply(501)
        if "uploads" in query:
            prefix = query.get("prefix", [""])[0]
            uploads = [u for u in json.load(open(state_file)) if u["key"].startswith(prefix)]
            items = "".join(
                "<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>%s</Initiated></Upload>"
                % (u["key"], u["id"], u["initiated"]) for u in uploads)
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>zb</Bucket>'
                    "<IsTruncated>false</IsTruncated>%s</ListMultipartUploadsResult>" % items)
            return self.reply(200, body.encode())
        if query.get("list-type") == ["2"]:
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>zb</Name>'
                    "<IsTruncated>false</IsTruncated></ListBucketResult>")
            return self.reply(200, body.encode())
        return self.reply(501)

    def do_DELETE(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        key = urllib.parse.unquote(url.path[len("/zb/"):])
        uploads = json.load(open(state_file))
        found = [u for u in uploads if u["key"] == key and [u["id"]] == query.get("uploadId")]
        if not found:
            return self.reply(404, b"<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>")
        with open(log_file, "a") as f:
            f.write("abort %s %s\n" % (key, found[0]["id"]))
        json.dump([u for u in uploads if u not in found], open(state_file, "w"))
        return self.reply(204)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Peer).serve_forever()
