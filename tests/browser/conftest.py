"""The portal's browser suite: the real `switchboard serve` and `flowroute-sim`, Debian's Chromium
driven by Playwright, and axe-core injected into every page it checks.

Environment:
- SB_BIN, SIM_BIN: the binaries (default: target/debug/…).
- SB_BROWSER_DATABASE: a PostgreSQL server URL to create a database on (default: SQLite in a
  temporary directory).
- SB_CHROMIUM: the browser (default /usr/bin/chromium).
- SB_AXE: axe-core's axe.min.js (default tests/browser/node_modules/axe-core/axe.min.js).
- SB_SCREENSHOTS: where each page's screenshot goes (default target/portal-screenshots).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SB_BIN = os.environ.get("SB_BIN", str(ROOT / "target/debug/switchboard"))
SIM_BIN = os.environ.get("SIM_BIN", str(ROOT / "target/debug/flowroute-sim"))
CHROMIUM = os.environ.get("SB_CHROMIUM", "/usr/bin/chromium")
AXE = Path(os.environ.get("SB_AXE", str(ROOT / "tests/browser/node_modules/axe-core/axe.min.js")))
SHOTS = Path(os.environ.get("SB_SCREENSHOTS", str(ROOT / "target/portal-screenshots")))
PASSWORD = "correct horse battery staple"
NUMBER = "12025550100"  # held by the simulated Flowroute account, for Acme
GLOBEX_NUMBER = "12025550101"  # held by it too, for Globex
IMPORTED_NUMBER = "12025550102"  # held by it too, imported by a tenant made in the portal
UNHELD_NUMBER = "12025550199"  # held by no account
# Every page of a tenant's navigation.
TENANT_PAGES = ["", "providers", "prefixes", "extensions", "numbers", "policies", "messages", "deliveries",
                "route-tester", "contacts", "companies", "reply-templates", "opt-outs", "users", "audit", "settings"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


class Server:
    """`switchboard serve` on a fresh database, with two tenants and their admins, and an operator."""

    def __init__(self, workdir: Path, sim_url: str):
        self.dir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            SWITCHBOARD_PRIVATE_TARGETS="127.0.0.0/8",
            SWITCHBOARD_LOG="warn",
            SWITCHBOARD_PUBLIC_URL=self.url,
            # A PBX delivery is given up after three attempts a second apart (the deliveries test).
            SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE_SECS="1,1",
            SWITCHBOARD_WEBHOOK_RETRY_JITTER="0",
            # Pictures are fetched from a local http server (the inbox test), not Flowroute's https.
            SWITCHBOARD_MEDIA_ALLOW_HTTP="true",
        )
        pg = os.environ.get("SB_BROWSER_DATABASE")
        self.pg_admin = None
        if pg:
            name = f"sb_browser_{uuid.uuid4().hex[:12]}"
            self.pg_admin = (pg, name)
            subprocess.run(["psql", pg, "-qc", f'CREATE DATABASE "{name}"'], check=True)
            self.env.update(
                SWITCHBOARD_DATABASE_URL=pg.rsplit("/", 1)[0] + "/" + name,
                SWITCHBOARD_JWT_SECRET="browser-suite-jwt-secret-0123456789abcdef",
                SWITCHBOARD_MASTER_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            )
        self.sim_url = sim_url
        self.run("migrate")
        self.process = None
        self.start()
        self.system = self.run("token", "--role", "system").strip()
        self.tenants = {}
        for slug, name in [("acme", "Acme Dental"), ("globex", "Globex Clinic")]:
            self.api("POST", "/api/v1/tenants", {"slug": slug, "name": name})
            self.user(f"admin@{slug}.test", f"{name} admin", "tenant_admin", slug)
        self.user("ops@example.net", "Operator", "system")

    def run(self, *args: str, password: str | None = None) -> str:
        env = dict(self.env)
        if password is not None:
            env["SWITCHBOARD_USER_PASSWORD"] = password
        done = subprocess.run([SB_BIN, *args], cwd=self.dir, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"switchboard {' '.join(args)}: {done.stderr}")
        return done.stdout

    def user(self, email: str, name: str, role: str, tenant: str | None = None, extension: str | None = None) -> None:
        args = ["user", "create", "--email", email, "--name", name, "--role", role]
        if tenant:
            args += ["--tenant", tenant]
        if extension:
            args += ["--extension", extension]
        self.run(*args, password=PASSWORD)

    def start(self) -> None:
        log = open(self.dir / "serve.log", "ab")
        self.process = subprocess.Popen(
            [SB_BIN, "serve", "--listen", f"127.0.0.1:{self.port}"], cwd=self.dir, env=self.env, stdout=log, stderr=log
        )
        wait_for(self.url + "/readyz")

    def restart(self) -> None:
        """Stops the server (SIGTERM) and starts it again on the same address and database."""
        self.process.terminate()
        self.process.wait(timeout=15)
        self.start()

    def api(self, method: str, path: str, body=None, token: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("authorization", f"Bearer {token or self.system}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                raw = res.read()
                return res.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.pg_admin:
            pg, name = self.pg_admin
            subprocess.run(["psql", pg, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


@pytest.fixture(scope="session", autouse=True)
def fresh_failures():
    """A run's failed pages replace the last run's."""
    for old in SHOTS.glob("FAILED-*"):
        old.unlink()


@pytest.fixture(scope="session")
def sim():
    port = free_port()
    process = subprocess.Popen(
        [SIM_BIN, "serve", "--listen", f"127.0.0.1:{port}", "--number", NUMBER, "--number", GLOBEX_NUMBER,
         "--number", IMPORTED_NUMBER],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(sim):
    workdir = Path(tempfile.mkdtemp(prefix="sb-browser-"))
    s = Server(workdir, sim)
    yield s
    s.stop()
    shutil.rmtree(workdir, ignore_errors=True)


class Pbx:
    """A PBX webhook on this machine that answers `status` and keeps what it accepted."""

    def __init__(self):
        import http.server
        import threading

        pbx = self
        self.status = 503
        self.accepted = []  # (webhook-id, body)
        self.refused = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                entry = (self.headers.get("webhook-id"), json.loads(body or b"null"))
                (pbx.accepted if pbx.status < 300 else pbx.refused).append(entry)
                self.send_response(pbx.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.httpd.server_address[1]}/pbx"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture()
def pbx():
    p = Pbx()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def new_page(browser, **options) -> Page:
    # axe is injected as a script of the test's own; the portal's CSP (rightly) refuses that, so the
    # test's context is told to let it in. Nothing else on the page is affected.
    context = browser.new_context(bypass_csp=True, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_in(page: Page, server: Server, email: str) -> None:
    page.goto(server.url + "/portal/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/sign-in" not in page.url, page.content()


@pytest.fixture(scope="session")
def globex(server, sim) -> dict:
    """Globex configured through the API: a provider, a prefix, an extension, a policy and a number.
    Their ids, for the pages that must stay out of Acme's reach."""

    def made(status_body, what):
        status, body = status_body
        assert status == 201, f"{what}: {status} {body}"
        return body

    t = "/api/v1/tenants/globex"
    provider = made(
        server.api(
            "POST",
            t + "/providers",
            {"name": "Globex main", "kind": "flowroute", "access_key": "sim-access", "secret_key": "sim-secret",
             "endpoint": sim + "/v2.2/messages"},
        ),
        "provider",
    )
    prefix = made(server.api("POST", t + "/prefixes", {"prefix": "globexin", "provider_id": provider["id"]}), "prefix")
    extension = made(server.api("POST", t + "/extensions", {"extension": "201", "name": "Reception"}), "extension")
    policy = made(server.api("POST", t + "/policies", {"name": "Globex hours", "timezone": "America/Denver"}), "policy")
    number = made(
        server.api(
            "POST",
            t + "/numbers",
            {"e164": "+" + GLOBEX_NUMBER, "name": "Globex line", "provider_id": provider["id"], "prefix": "globexin",
             "destinations": ["201"]},
        ),
        "number",
    )
    return {
        "providers": provider["id"],
        "prefixes": prefix["prefix"],
        "webhook_url": prefix["webhook_url"],
        "extensions": extension["extension"],
        "policies": policy["id"],
        "numbers": number["e164"],
    }


@pytest.fixture()
def globex_admin(browser, server, globex) -> Page:
    """A browser signed in as Globex's tenant admin."""
    page = new_page(browser)
    sign_in(page, server, "admin@globex.test")
    yield page
    page.context.close()


@pytest.fixture()
def admin(browser, server) -> Page:
    """A browser signed in as Acme's tenant admin."""
    page = new_page(browser)
    sign_in(page, server, "admin@acme.test")
    yield page
    page.context.close()


def check_axe(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it stands."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in tests/browser")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "axe: " + json.dumps(
        [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in bad], indent=1
    )


def tab_through(page: Page, presses: int = 40) -> set:
    """Presses Tab until the focus leaves the last control, asserting each control shows where the
    focus is; answers the controls reached, as `TAG#id` (or name, or text)."""
    seen = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                       return [e.tagName + '#' + (e.id || e.name || e.textContent.trim().slice(0, 20)),
                               s.outlineStyle, s.outlineWidth]; }"""
        )
        if info[0].startswith("BODY"):
            break  # past the last control
        seen.add(info[0])
        assert info[1] != "none" and info[2] != "0px", f"{info[0]} has no visible focus: {info}"
    return seen


def shot(page: Page, name: str) -> None:
    """Saves the page's screenshot, and checks the page with axe."""
    check_axe(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test leaves its page's screenshot and HTML beside the others, to see what it saw."""
    outcome = yield
    report = outcome.get_result()
    page = next((item.funcargs[n] for n in ("admin", "globex_admin", "page") if n in item.funcargs), None)
    if report.when == "call" and report.failed and page is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(SHOTS / f"FAILED-{item.name}.png"), full_page=True)
            (SHOTS / f"FAILED-{item.name}.html").write_text(page.content())
        except Exception as e:  # the page may be gone; the failure itself is what matters
            print(f"could not keep the failed page: {e}")
