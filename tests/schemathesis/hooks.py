"""Schemathesis hooks for Switchboard: every error answer is RFC 9457 problem+json."""

import json

import schemathesis


@schemathesis.check
def errors_are_problem_json(ctx, response, case):
    """A 4xx or 5xx carries application/problem+json with type, title, status, detail and code."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}, not application/problem+json")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{response.status_code}: the problem is not JSON ({e})")
    for key in ("type", "title", "status", "detail", "code"):
        if key not in body:
            raise AssertionError(f"{response.status_code}: the problem has no {key!r}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"the problem says {body['status']} but the answer is {response.status_code}")
    if body["type"] != f"urn:switchboard:problem:{body['code']}":
        raise AssertionError(f"type {body['type']!r} does not match code {body['code']!r}")
    return None


# Flowroute's own answers, passed on: documented on the operations that ask Flowroute something
# (a provider's numbers, callbacks, texting), and a fact about Flowroute, not a fault of Switchboard.
UPSTREAM = {502: ("provider_bad_credentials", "provider_error"), 503: ("provider_unreachable",)}


@schemathesis.check
def no_server_fault(ctx, response, case):
    """No 5xx, but a 502 or 503 that says Flowroute refused or could not be reached."""
    if response.status_code < 500:
        return None
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    if code in UPSTREAM.get(response.status_code, ()):
        return None
    raise AssertionError(f"server error {response.status_code} ({code}): {response.content[:300]!r}")
