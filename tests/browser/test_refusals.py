"""What the portal refuses: pages without a session, a wrong password, another tenant's pages and
forms, and forms that did not come from the portal (CSRF)."""

import pytest

from conftest import TENANT_PAGES, new_page, shot, sign_in


def test_a_page_asks_for_sign_in_and_comes_back_to_it(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/portal/t/acme/numbers")
    assert "/portal/sign-in?next=%2Fportal%2Ft%2Facme%2Fnumbers" in page.url
    shot(page, "sign-in")
    page.fill("#email", "admin@acme.test")
    page.fill("#password", "correct horse battery staple")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == server.url + "/portal/t/acme/numbers"
    page.context.close()


def test_a_wrong_password_is_refused_in_words(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/portal/sign-in")
    page.fill("#email", "admin@acme.test")
    page.fill("#password", "not the password")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value.status == 401
    assert page.locator("[role=alert]").inner_text() == "The email or password is not right."
    assert page.input_value("#email") == "admin@acme.test"
    assert page.input_value("#password") == "", "a password is never drawn back into the page"
    shot(page, "sign-in-refused")
    page.goto(server.url + "/portal/t/acme/")
    assert "/portal/sign-in" in page.url, "a refused sign-in opens nothing"
    page.context.close()


def test_signing_out_ends_the_session(browser, server):
    page = new_page(browser)
    sign_in(page, server, "admin@acme.test")
    cookie = next(c for c in page.context.cookies() if c["name"] == "sb_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    with page.expect_navigation():
        page.click("text=Sign out")
    assert "/portal/sign-in" in page.url
    # The old cookie, replayed, opens nothing: the session itself ended.
    other = new_page(browser)
    other.context.add_cookies([cookie])
    other.goto(server.url + "/portal/t/acme/")
    assert "/portal/sign-in" in other.url
    for p in (page, other):
        p.context.close()


@pytest.mark.parametrize("path", TENANT_PAGES)
def test_another_tenants_pages_are_not_found(admin, server, path):
    res = admin.goto(f"{server.url}/portal/t/globex/{path}")
    assert res.status == 404, f"/portal/t/globex/{path} answered {res.status}"
    assert "Not found" in admin.locator("h1").inner_text()
    assert "Globex" not in admin.content()


def test_another_tenants_items_are_not_found_under_either_tenant(admin, server, globex):
    items = [f"{collection}/{key}" for collection, key in globex.items() if collection != "webhook_url"]
    items.append(f"providers/{globex['providers']}/account")
    status, people = server.api("GET", "/api/v1/tenants/globex/users")
    items += [f"users/{u['id']}" for u in people["items"]]
    assert any(i.startswith("users/") for i in items), "Globex has a person to look for"
    for item in items:
        for tenant in ("globex", "acme"):
            url = f"{server.url}/portal/t/{tenant}/{item}"
            res = admin.goto(url)
            assert res.status == 404, f"{url} answered {res.status}"
    shot(admin, "not-found")


def test_another_tenants_forms_are_not_found(admin, server, globex):
    """Acme's admin, with Acme's own valid token, posts to Globex's forms: nothing is found, and
    nothing changes."""
    admin.goto(server.url + "/portal/t/acme/extensions")
    csrf = admin.get_attribute("input[name=csrf]", "value")
    origin = {"origin": server.url}
    posts = [
        (f"/portal/t/globex/extensions", {"extension": "777", "name": "Intruder"}),
        (f"/portal/t/globex/extensions/{globex['extensions']}", {"name": "Renamed"}),
        (f"/portal/t/globex/extensions/{globex['extensions']}/delete", {}),
        (f"/portal/t/acme/extensions/{globex['extensions']}/delete", {}),
        (f"/portal/t/globex/providers/{globex['providers']}/check", {}),
        (f"/portal/t/acme/providers/{globex['providers']}/check", {}),
        (f"/portal/t/globex/numbers/{globex['numbers']}", {"name": "Renamed"}),
        (f"/portal/t/globex/settings", {"name": "Renamed", "timezone": "UTC"}),
        (f"/portal/t/globex/settings/webhook-secret", {}),
        (f"/portal/t/globex/providers/{globex['providers']}/account/enable", {}),
        (f"/portal/t/acme/providers/{globex['providers']}/account/look", {}),
        (f"/portal/t/globex/opt-outs/+12065550999/lift", {"reason": "not yours"}),
        (f"/portal/t/globex/users", {"email": "x@globex.test", "name": "X", "role": "tenant_admin"}),
    ]
    for path, form in posts:
        res = admin.request.post(server.url + path, form={"csrf": csrf, **form}, headers=origin, max_redirects=0)
        assert res.status == 404, f"POST {path} answered {res.status}"
    status, ext = server.api("GET", f"/api/v1/tenants/globex/extensions/{globex['extensions']}")
    assert status == 200 and ext["name"] == "Reception"
    status, page = server.api("GET", "/api/v1/tenants/globex/extensions")
    extensions = [e["extension"] for e in page["items"]]
    assert globex["extensions"] in extensions and "777" not in extensions, extensions
    status, tenant = server.api("GET", "/api/v1/tenants/globex")
    assert tenant["name"] == "Globex Clinic" and tenant["webhook_secret_rotated_at"] is None
    status, people = server.api("GET", "/api/v1/tenants/globex/users")
    assert "x@globex.test" not in [u["email"] for u in people["items"]]


def test_a_tenant_admin_has_no_operator_screens(admin, server):
    assert admin.goto(server.url + "/portal/tenants").status == 404


def test_forms_that_did_not_come_from_the_portal_are_refused(admin, server):
    admin.goto(server.url + "/portal/t/acme/extensions")
    csrf = admin.get_attribute("input[name=csrf]", "value")
    url = server.url + "/portal/t/acme/extensions"

    def post(token, headers):
        return admin.request.post(url, form={"csrf": token, "extension": "555", "name": "Forged"}, headers=headers,
                                  max_redirects=0)

    refused = [
        ("no token", post("", {"origin": server.url}), "security token"),
        ("another session's token", post("0" * 64, {"origin": server.url}), "security token"),
        ("another site", post(csrf, {"origin": "https://evil.example"}), "another site"),
        ("a null origin", post(csrf, {"origin": "null"}), "another site"),
        ("no origin and no referer", post(csrf, {}), "did not say where"),
        ("another site's referer", post(csrf, {"referer": "https://evil.example/form"}), "did not say where"),
    ]
    for what, res, says in refused:
        assert res.status == 403, f"{what}: {res.status}"
        assert says in res.text(), f"{what}: {res.text()}"
    status, page = server.api("GET", "/api/v1/tenants/acme/extensions")
    assert "555" not in [e["extension"] for e in page["items"]], "no refused form changed anything"

    # The same form from the portal itself is taken (so the refusals above are the checks', not a
    # broken form's).
    ok = post(csrf, {"origin": server.url})
    assert ok.status == 303, ok.status
    status, page = server.api("GET", "/api/v1/tenants/acme/extensions/555")
    assert status == 200 and page["name"] == "Forged"
    server.api("DELETE", "/api/v1/tenants/acme/extensions/555")


def test_a_csrf_refusal_is_a_page_that_says_why(admin, server):
    admin.goto(server.url + "/portal/t/acme/extensions")
    admin.evaluate("document.querySelector('#create input[name=csrf]').value = 'stale'")
    admin.fill("#create-extension", "556")
    admin.fill("#create-name", "Stale form")
    with admin.expect_navigation() as nav:
        admin.click("#create button[type=submit]")
    assert nav.value.status == 403
    assert "security token" in admin.locator("[role=alert]").inner_text()
    shot(admin, "csrf-refused")


def test_pages_carry_the_security_headers(admin, server):
    res = admin.goto(server.url + "/portal/t/acme/")
    h = res.headers
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    # No inline script anywhere: every script is a file of the portal's own.
    assert admin.evaluate("[...document.scripts].every(s => s.src.startsWith(location.origin + '/portal/static/'))")
