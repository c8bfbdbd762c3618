#!/usr/bin/env python3
"""A misbehaving OpenAI-compatible server for the openai backend's tests.

    fault_server.py [--port N] [--port-file FILE] [--expect-key KEY_ENV]

POST /<scenario>/v1/chat/completions answers as the scenario says; the
first attempt of a request is told apart from a retry by the request body
(the same body is the same request). Scenarios:

    ok          200 with "reply to seed S: ..." and usage counts (also
                any name not listed here: "okA", "okB" tell endpoints apart)
    slow*       ok after 0.3 s ("slowA", "slowB", ...)
    r429        first attempt: 429 with Retry-After: 1, then ok
    r500        first attempt: 500, then ok
    r503all     always 503
    garbage     first attempt: 200 with a body that is not JSON, then ok
    empty       200 with content ""
    nullc       200 with content null
    nochoices   200 without "choices"
    badutf8     200 whose content holds invalid UTF-8 bytes
    stall       first attempt: no answer for 3 s, then ok
    stallall    never answers within 3 s
    r400        400 with {"error": {"message": "model 'x' does not exist"}}
    r401echo    401 whose message echoes the Authorization header (as some
                APIs do with a bad key)
    label       a 1..5 label that parses for an even seed ("3") and not for
                an odd one ("I'd say three"): a server that ignores grammars
    labelbad    "three", whatever the seed

GET /_log returns every request seen as a JSON array of
{t, scenario, status, attempt, concurrent, client_port, body,
auth_ok}; the Authorization header
itself is never recorded (auth_ok: it equals "Bearer " + the key in the
environment variable named by --expect-key). GET /_reset forgets them.
Standard library only; one thread per connection.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SEEN = {}       # (scenario, body digest) -> attempts so far
INFLIGHT = {}   # scenario -> requests being answered now
LOG = []
EXPECT_KEY = None


def reply_body(req, content):
    seed = req.get("seed")
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "model": req.get("model", "?"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        "echo_seed": seed,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, obj=None, raw=None, headers=()):
        data = raw if raw is not None else json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.send(200, list(LOG))
        elif self.path == "/_reset":
            with LOCK:
                LOG.clear()
                SEEN.clear()
            self.send(200, {"ok": True})
        else:
            self.send(404, {"error": {"message": "no such path"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        scenario = self.path.strip("/").split("/")[0]
        if not self.path.endswith("/v1/chat/completions"):
            self.send(404, {"error": {"message": "no such path " + self.path}})
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, {"error": {"message": "request body is not JSON"}})
            return
        auth = self.headers.get("Authorization", "")
        auth_ok = EXPECT_KEY is not None and auth == "Bearer " + EXPECT_KEY
        digest = hashlib.sha256(raw).hexdigest()
        with LOCK:
            attempt = SEEN.get((scenario, digest), 0) + 1
            SEEN[(scenario, digest)] = attempt
            INFLIGHT[scenario] = INFLIGHT.get(scenario, 0) + 1
            concurrent = INFLIGHT[scenario]
        first = attempt == 1
        user = req["messages"][-1]["content"] if req.get("messages") else ""
        ok = reply_body(req, "reply to seed %s: %s" % (req.get("seed"), user[-40:]))
        status, obj, body, headers = 200, ok, None, []
        if scenario == "r429" and first:
            status, obj, headers = 429, {"error": {"message": "rate limited"}}, [("Retry-After", "1")]
        elif scenario == "r429huge" and first:
            status, obj, headers = 429, {"error": {"message": "rate limited"}}, [("Retry-After", "100000")]
        elif scenario == "r500" and first:
            status, obj = 500, {"error": {"message": "internal error"}}
        elif scenario == "r503all":
            status, obj = 503, {"error": {"message": "overloaded"}}
        elif scenario == "garbage" and first:
            body = b"{this is not json"
        elif scenario == "empty":
            obj = reply_body(req, "")
        elif scenario == "nullc":
            obj = reply_body(req, None)
        elif scenario == "nochoices":
            obj = {"object": "chat.completion", "usage": {}}
        elif scenario == "badutf8":
            body = json.dumps(reply_body(req, "XX")).encode().replace(b"XX", b"ok \xff\xfe end")
        elif (scenario == "stall" and first) or scenario == "stallall":
            time.sleep(3)
        elif scenario.startswith("slow"):
            time.sleep(0.3)
        elif scenario == "r400":
            status, obj = 400, {"error": {"message": "model 'x' does not exist"}}
        elif scenario == "label":
            obj = reply_body(req, "3" if (req.get("seed") or 0) % 2 == 0 else "I'd say three")
        elif scenario == "labelbad":
            obj = reply_body(req, "three")
        elif scenario == "r401echo":
            status, obj = 401, {"error": {"message": "Incorrect API key provided: " + auth}}
        # the key placed where a message is clipped: only a scrub before the
        # clip catches it (400 bytes of server text, 80 of a non-JSON reply,
        # 4096 of a debug-logged body); and echoed JSON-escaped
        elif scenario == "keyclip400":
            key = auth[len("Bearer "):]
            status, obj = 400, {"error": {"message": "a" * (400 - (len(key) - 1)) + key}}
        elif scenario == "keyclip80":
            key = auth[len("Bearer "):]
            body = ("<" + "a" * (79 - (len(key) - 1)) + key).encode()
        elif scenario == "keyclip4096":
            key = auth[len("Bearer "):]
            head = '{"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "'
            pad = "a" * (4096 - (len(key) - 1) - len(head))
            body = (head + pad + key + '"}}]}').encode()
        elif scenario == "keyescaped":
            key = auth[len("Bearer "):]
            esc = key.replace("/", "\\/").replace("T", "\\u0054")
            status, body = 401, ('{"error": {"message": "bad key ' + esc + '"}}').encode()
        with LOCK:
            INFLIGHT[scenario] -= 1
            LOG.append({"t": time.monotonic(), "scenario": scenario, "status": status,
                        "attempt": attempt, "concurrent": concurrent,
                        "client_port": self.client_address[1], "body": req,
                        "auth_ok": auth_ok})
        self.send(status, obj, body, headers)


class Server(ThreadingHTTPServer):
    # the default backlog of 5 refuses connections when many arrive at once
    request_queue_size = 256
    daemon_threads = True


def main():
    global EXPECT_KEY
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--expect-key", help="name of the env var holding the key")
    a = ap.parse_args()
    if a.expect_key:
        EXPECT_KEY = os.environ.get(a.expect_key)
    srv = Server(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
