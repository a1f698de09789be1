"""A second factor set up in the portal alone: a person scans (here: reads) the secret, a wrong code
is refused beside its field, the right one turns it on and shows the recovery codes once, and
signing in then asks for a code. A tenant that requires one sends its people to set it up before
anything else, and does not let them turn it off."""

import base64
import hashlib
import hmac
import struct
import time

from playwright.sync_api import expect

from conftest import PASSWORD, new_page, shot, sign_in


def code_of(secret: str, at: float | None = None) -> str:
    """RFC 6238 with SHA-1, six digits, 30-second steps: what an authenticator app shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((at if at is not None else time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def set_up(page, server) -> list[str]:
    """Sets a second factor up on the page: a wrong code first, then the right one; answers the
    recovery codes."""
    page.click("button:text-is('Set up a second factor')")
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#secret").inner_text().strip()
    shot(page, "second-factor-setup")
    wrong = "000000" if code_of(secret) != "000000" else "111111"
    page.fill("#code", wrong)
    with page.expect_navigation() as nav:
        page.click("button:text-is('Turn the second factor on')")
    assert nav.value.status == 422
    assert "is not the authenticator's current code" in page.locator("#code-error").inner_text()
    assert page.locator("#secret").inner_text().strip() == secret, "the same secret, to try again"
    page.fill("#code", code_of(secret))
    page.click("button:text-is('Turn the second factor on')")
    expect(page.locator("h1")).to_have_text("Second factor on")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    shot(page, "second-factor-codes")
    return codes


def test_a_person_sets_up_a_second_factor_in_the_portal(browser, server):
    server.user("pat@globex.test", "Pat", "tenant_admin", "globex")
    page = new_page(browser)
    sign_in(page, server, "pat@globex.test")
    page.click("text=Second factor")
    expect(page.locator("h1")).to_have_text("Second factor")
    codes = set_up(page, server)
    page.goto(server.url + "/portal/second-factor")
    expect(page.locator("main")).to_contain_text("10 unused recovery codes")
    # Signing in again asks for a code; a recovery code does.
    page.click("button:text-is('Sign out')")
    page.fill("#email", "pat@globex.test")
    page.fill("#password", PASSWORD)
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value.status == 401
    page.fill("#password", PASSWORD)
    page.fill("#code", codes[0])
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/portal/t/globex/")
    # Turned off with the password (a wrong one is refused beside its field).
    page.goto(server.url + "/portal/second-factor")
    expect(page.locator("main")).to_contain_text("9 unused recovery codes")
    page.fill("#password", "not my password")
    page.click("button:text-is('Turn the second factor off')")
    expect(page.locator("#password-error")).to_have_text("Your password is not right.")
    page.fill("#password", PASSWORD)
    page.click("button:text-is('Turn the second factor off')")
    expect(page.locator(".notice")).to_have_text("Your second factor is off.")
    page.context.close()


def test_a_tenant_that_requires_one_sends_its_people_to_set_it_up(browser, server):
    status, _ = server.api("POST", "/api/v1/tenants", {"slug": "umbrella", "name": "Umbrella Clinic"})
    assert status == 201
    status, _ = server.api("PATCH", "/api/v1/tenants/umbrella", {"require_totp": True})
    assert status == 200
    server.user("admin@umbrella.test", "Umbrella admin", "tenant_admin", "umbrella")
    page = new_page(browser)
    sign_in(page, server, "admin@umbrella.test")
    expect(page).to_have_url(server.url + "/portal/second-factor")
    expect(page.locator("[role=alert]")).to_have_text("Your tenant requires a second factor. Set one up to use the portal.")
    shot(page, "second-factor-required")
    page.goto(server.url + "/portal/t/umbrella/numbers")
    expect(page).to_have_url(server.url + "/portal/second-factor")
    set_up(page, server)
    page.click("text=Continue to the portal")
    expect(page).to_have_url(server.url + "/portal/t/umbrella/")
    page.goto(server.url + "/portal/second-factor")
    expect(page.locator("main")).to_contain_text("Your tenant requires it, so it cannot be turned off.")
    assert page.locator("#password").count() == 0
    csrf = page.get_attribute("input[name=csrf]", "value")
    res = page.request.post(server.url + "/portal/second-factor/disable",
                            form={"csrf": csrf, "password": PASSWORD}, headers={"origin": server.url})
    assert res.status == 422 and "requires a second factor" in res.text()
    page.context.close()
