"""How fast the inbox reads with a tenant's history behind it: the conversation list (each
person's unread counts, who has each conversation), a thread, and the extension API's list (the
extension's own counters), timed as the browser asks for them.

    cargo build --release -p switchboard -p flowroute-sim
    target/browser-venv/bin/python benches/inbox.py [--remotes 2000] [--texts-each 10]
    SB_BROWSER_DATABASE=postgres://postgres@127.0.0.1:5432/postgres target/browser-venv/bin/python benches/inbox.py

It starts `switchboard serve` (release) on a fresh database as the browser suite does, posts the
history through the tenant's prefix as Flowroute would, signs two people in, and prints the median
and 90th percentile of each read over 40 requests. Not a test: nothing is asserted."""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SB_BIN", str(ROOT / "target/release/switchboard"))
sys.path.insert(0, str(ROOT / "tests/browser"))
from conftest import PASSWORD, Server  # noqa: E402

NUMBER = "+12025550101"


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as res:
        return res.status, res.headers, res.read()


def get(url, cookie):
    req = urllib.request.Request(url)
    req.add_header("cookie", f"sb_session={cookie}")
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as res:
        res.read()
        assert res.status == 200, res.status
    return time.perf_counter() - started


def sign_in(server, email):
    _, headers, _ = post(server.url + "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    cookie = headers["set-cookie"].split(";", 1)[0]
    return cookie.split("=", 1)[1]


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--remotes", type=int, default=2000)
    args.add_argument("--texts-each", type=int, default=10)
    args.add_argument("--requests", type=int, default=40)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as work:
        server = Server(Path(work), "http://127.0.0.1:9")
        try:
            t = "/api/v1/tenants/globex"
            _, provider = server.api("POST", t + "/providers", {
                "name": "Globex main", "kind": "flowroute", "access_key": "k", "secret_key": "s",
                "endpoint": "http://127.0.0.1:9/v2.2/messages"})
            _, prefix = server.api("POST", t + "/prefixes", {"prefix": "globexin", "provider_id": provider["id"]})
            server.api("POST", t + "/extensions", {"extension": "201", "name": "Reception"})
            server.api("POST", t + "/numbers", {"e164": NUMBER, "name": "Globex line", "provider_id": provider["id"],
                                                "prefix": "globexin", "destinations": ["201"]})
            server.user("desk@globex.test", "Desk", "extension", "globex", "201")
            total = opts.remotes * opts.texts_each
            started = time.monotonic()

            def text(i):
                remote = f"1206{5_000_000 + i % opts.remotes:07d}"
                post(prefix["webhook_url"], {"to": NUMBER[1:], "from": remote, "body": f"text {i} about teeth",
                                            "id": f"mdr2-bench{i}"})

            with ThreadPoolExecutor(16) as pool:
                list(pool.map(text, range(total)))
            print(f"history: {total} texts from {opts.remotes} people in {time.monotonic() - started:.1f} s")
            desk = sign_in(server, "desk@globex.test")
            admin = sign_in(server, "admin@globex.test")
            thread = f"{server.url}/portal/inbox/+1206{5_000_000:07d}"
            reads = [
                ("extension user's inbox (Open, 50 of them)", server.url + "/portal/inbox", desk),
                ("extension user's inbox found by a word", server.url + "/portal/inbox?q=teeth", desk),
                ("tenant admin's inbox (All)", server.url + "/portal/inbox?show=all", admin),
                ("a thread", thread, desk),
                ("GET /api/v1/conversations (the extension's counters)", server.url + "/api/v1/conversations", desk),
            ]
            for name, url, cookie in reads:
                times = sorted(get(url, cookie) for _ in range(opts.requests))
                p90 = times[int(len(times) * 0.9) - 1]
                print(f"{name}: median {statistics.median(times) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
