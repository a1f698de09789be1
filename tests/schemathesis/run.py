"""Schemathesis against a running Switchboard: no 5xx, and every error is problem+json.

Seeds one tenant with a real resource of every kind, so generated requests reach the handlers
instead of stopping at 404, then runs schemathesis twice against /api/v1/openapi.json: the admin
API with a system token, the extension API with an extension token.

    python tests/schemathesis/run.py --base http://127.0.0.1:8080 \
        --system-token "$(switchboard token --role system)" --switchboard "$(command -v switchboard)"

The extension token is minted with `switchboard token` once the tenant exists (a tenant's tokens
must be issued after it was created), in this process's environment (the server's settings).
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import requests

HERE = pathlib.Path(__file__).resolve().parent


def seed(base: str, token: str) -> dict:
    """Creates tenant acme with one of everything; returns the ids schemathesis should use."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"

    def post(path: str, body: dict) -> dict:
        r = s.post(f"{base}{path}", json=body, timeout=30)
        if r.status_code != 201:
            sys.exit(f"seeding {path}: {r.status_code} {r.text}")
        return r.json()

    t = "/api/v1/tenants/acme"
    post("/api/v1/tenants", {"slug": "acme", "name": "Acme"})
    company = post(f"{t}/companies", {"name": "Walk-ins"})["id"]
    provider = post(
        f"{t}/providers",
        {"name": "Main", "kind": "flowroute", "access_key": "AK123456", "secret_key": "sk-secret",
         "catch_all_company_id": company},
    )["id"]
    post(f"{t}/prefixes", {"prefix": "acmein", "provider_id": provider, "token": None, "allowed_sources": ["127.0.0.0/8"]})
    for ext in ("101", "102"):
        post(f"{t}/extensions", {"extension": ext, "name": f"Ext {ext}"})
    policy = post(f"{t}/policies", {"name": "Front desk", "timezone": "America/New_York"})["id"]
    post(f"{t}/numbers", {"e164": "+12025550100", "name": "Main", "provider_id": provider, "prefix": "acmein",
                          "destinations": ["101", "102"], "senders": ["101"], "policy_id": policy})
    contact = post(f"{t}/contacts", {"name": "Pat Doe", "phone": "+12065550123", "company_id": company})["id"]
    text = {"to": "12025550100", "from": "12065550123", "body": "hello", "id": "mdr2-schemathesis-1"}
    r = requests.post(f"{base}/acmein", json=text, timeout=30)
    if r.status_code != 200:
        sys.exit(f"seeding an inbound text: {r.status_code} {r.text}")
    stop = {"to": "12025550100", "from": "12065550124", "body": "STOP", "id": "mdr2-schemathesis-2"}
    requests.post(f"{base}/acmein", json=stop, timeout=30).raise_for_status()
    return {"provider": provider, "policy": policy, "company": company, "contact": contact,
            "message": r.json()["message_id"]}


def config(ids: dict) -> str:
    """schemathesis.toml: fixed path parameters naming the seeded resources."""
    def by_path(regex: str, value: str) -> str:
        return f'[[operations]]\ninclude-path-regex = "{regex}"\nparameters = {{ "path.id" = "{value}" }}\n\n'

    out = (
        "[generation]\n"
        "max-examples = 60\n\n"
        "[parameters]\n"
        '"path.tenant" = "acme"\n'
        '"path.prefix" = "acmein"\n'
        '"path.ext" = "102"\n'
        '"path.remote" = "+12065550123"\n\n'
        '[[operations]]\ninclude-path-regex = "/numbers/"\nparameters = { "path.e164" = "+12025550100" }\n\n'
        '[[operations]]\ninclude-path-regex = "/opt-outs/"\nparameters = { "path.e164" = "+12065550124" }\n\n'
    )
    for collection, key in (("providers", "provider"), ("policies", "policy"), ("companies", "company"),
                            ("contacts", "contact"), ("messages", "message")):
        out += by_path(f"/{collection}/\\\\{{id\\\\}}", ids[key])
    return out


def run(base: str, token: str, extra: list, config_file: pathlib.Path) -> int:
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=str(HERE))
    cmd = [
        "schemathesis", "--config-file", str(config_file), "run", f"{base}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {token}",
        # no_server_fault is not_a_server_error but for Flowroute's own failures passed on (hooks.py).
        "--checks", "no_server_fault,errors_are_problem_json",
        "--phases", "examples,coverage,fuzzing",
        # One worker: hypothesis describes lambdas through a cache that is not thread-safe
        # ("AST constructor recursion depth mismatch" with two).
        "--workers", "1",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261122"),
        # The event stream never ends by design (tests/api/live.rs covers it); here it would only
        # hold each request until schemathesis gives up on it.
        "--exclude-path", "/api/v1/events",
        *extra,
    ]
    print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer …" for c in cmd), flush=True)
    return subprocess.call(cmd, env=env)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--system-token", required=True)
    p.add_argument("--switchboard", required=True, help="the binary, to mint the extension token")
    args = p.parse_args()
    ids = seed(args.base, args.system_token)
    args.extension_token = subprocess.run(
        [args.switchboard, "token", "--role", "extension", "--tenant", "acme", "--extension", "101"],
        capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as d:
        cfg = pathlib.Path(d) / "schemathesis.toml"
        cfg.write_text(config(ids))
        # The extension API first: the admin run deletes what it finds, the tenant included.
        extension = run(args.base, args.extension_token, ["--include-tag", "extension"], cfg)
        admin = run(args.base, args.system_token, ["--exclude-tag", "extension"], cfg)
    return extension or admin


if __name__ == "__main__":
    sys.exit(main())
