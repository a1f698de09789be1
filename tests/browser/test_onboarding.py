"""An operator adds a tenant and invites its admin; the admin chooses a password from the
invitation link and connects the tenant's Flowroute account from the portal: its numbers imported,
texting enabled, callbacks pointed at Switchboard. Then the operator suspends the tenant."""

import re

from conftest import GLOBEX_NUMBER, IMPORTED_NUMBER, new_page, shot, sign_in


def test_a_tenant_from_nothing_through_the_portal(browser, server, sim, globex):
    ops = new_page(browser)
    sign_in(ops, server, "ops@example.net")

    # The operator adds the tenant: its webhook signing secret is shown once.
    ops.fill("#create-slug", "initech")
    ops.fill("#create-name", "Initech Dental")
    ops.click("#create button[type=submit]")
    assert re.fullmatch(r"whsec_\S+", ops.locator("#once-webhook_secret").inner_text().strip())
    assert ops.locator("tbody tr", has_text="Initech Dental").count() == 1
    ops.fill("#create-slug", "initech")
    ops.fill("#create-name", "Twin")
    with ops.expect_navigation() as nav:
        ops.click("#create button[type=submit]")
    assert nav.value.status == 409, "a slug is taken once"
    shot(ops, "tenants-refused")

    # … and invites its admin: the invitation link is shown once.
    ops.goto(server.url + "/portal/t/initech/users")
    ops.fill("#create-email", "admin@initech.test")
    ops.fill("#create-name", "Bill Lumbergh")
    ops.select_option("#create-role", "tenant_admin")
    ops.click("#create button[type=submit]")
    link = ops.locator("#once-invitation").inner_text().strip()
    assert link.startswith(server.url + "/portal/invitation?token="), link
    shot(ops, "user-invited")
    ops.reload()
    assert ops.locator("#once-invitation").count() == 0, "the invitation is shown once"
    ops.goto(server.url + "/portal/t/initech/users")
    assert "invited (no password yet)" in ops.locator("tbody tr", has_text="admin@initech.test").inner_text()

    # The admin opens the link and chooses a password.
    admin = new_page(browser)
    admin.goto(link)
    shot(admin, "invitation")
    admin.fill("#password", "a new long passphrase")
    admin.fill("#again", "not the same one at all")
    with admin.expect_navigation() as nav:
        admin.click("button[type=submit]")
    assert nav.value.status == 422
    assert admin.locator("#password-error").inner_text() == "the two passwords are not the same"
    admin.fill("#password", "a new long passphrase")
    admin.fill("#again", "a new long passphrase")
    with admin.expect_navigation():
        admin.click("button[type=submit]")
    assert admin.locator(".notice").inner_text() == "Your password is set: sign in with your email and it."
    admin.fill("#email", "admin@initech.test")
    admin.fill("#password", "a new long passphrase")
    with admin.expect_navigation():
        admin.click("button[type=submit]")
    assert admin.url == server.url + "/portal/t/initech/"
    admin.goto(link)
    admin.fill("#password", "another long passphrase")
    admin.fill("#again", "another long passphrase")
    with admin.expect_navigation() as nav:
        admin.click("button[type=submit]")
    assert nav.value.status == 404, "an invitation works once"

    # The admin connects the account: provider, prefix, extension.
    base = server.url + "/portal/t/initech"
    admin.goto(base + "/providers")
    admin.fill("#create-name", "Initech account")
    admin.fill("#create-access_key", "sim-access")
    admin.fill("#create-secret_key", "sim-secret")
    admin.fill("#create-endpoint", sim + "/v2.2/messages")
    admin.click("#create button[type=submit]")
    provider_page = admin.url.split("?")[0]
    admin.goto(base + "/prefixes")
    admin.fill("#create-prefix", "initechin")
    admin.click("#create button[type=submit]")
    admin.goto(base + "/extensions")
    admin.fill("#create-extension", "301")
    admin.fill("#create-name", "Front desk")
    admin.click("#create button[type=submit]")

    # The account's numbers, and two of them imported: one it may have, one another tenant has.
    admin.goto(provider_page)
    admin.click("text=The Flowroute account: its numbers, texting and callbacks")
    rows = admin.locator("tbody tr").all_inner_texts()
    assert any(f"+{IMPORTED_NUMBER}" in r and "not enabled" in r for r in rows), rows
    shot(admin, "account")
    admin.get_by_label(f"+{IMPORTED_NUMBER}", exact=True).check()
    admin.get_by_label(f"+{GLOBEX_NUMBER}", exact=True).check()
    admin.locator("#import fieldset:has(legend:text-is('Destinations'))").get_by_label("301 Front desk").check()
    admin.locator("#import fieldset:has(legend:text-is('Senders'))").get_by_label("301 Front desk").check()
    admin.click("#import button[type=submit]")
    outcome = admin.locator(".notice").inner_text()
    assert f"1 number added: +{IMPORTED_NUMBER}." in outcome, outcome
    assert f"+{GLOBEX_NUMBER} left alone: another tenant has it." in outcome, outcome
    shot(admin, "account-imported")

    admin.click("text=Enable texting")
    outcome = admin.locator(".notice").inner_text()
    assert f"Enabled: +{IMPORTED_NUMBER}" in outcome, outcome
    admin.click("text=Point the callbacks at Switchboard")
    outcome = admin.locator(".notice").inner_text()
    assert f"+{IMPORTED_NUMBER}: set" in outcome and "(changed now)" in outcome, outcome
    shot(admin, "account-callbacks")
    admin.click("text=Look where they point now")
    outcome = admin.locator(".notice").inner_text()
    assert f"+{IMPORTED_NUMBER}: set" in outcome and "(changed now)" not in outcome, outcome
    rows = admin.locator("tbody tr").all_inner_texts()
    assert any(f"+{IMPORTED_NUMBER}" in r and "enabled" in r and "yes" in r for r in rows), rows
    admin.goto(base + "/numbers")
    row = admin.locator("tbody tr", has_text=f"+{IMPORTED_NUMBER}").inner_text()
    assert "301" in row and "set" in row, row

    # The operator suspends the tenant: its admin may read, not change; then resumes it.
    ops.goto(base + "/settings")
    ops.select_option("#change-status", "suspended")
    ops.click("#change button[type=submit]")
    assert ops.locator(".notice").inner_text() == "Saved."
    admin.goto(base + "/")
    assert "This tenant is suspended" in admin.locator("[role=alert]").inner_text()
    admin.goto(base + "/extensions")
    admin.fill("#create-extension", "302")
    admin.fill("#create-name", "Blocked")
    with admin.expect_navigation() as nav:
        admin.click("#create button[type=submit]")
    assert nav.value.status == 403
    assert "suspended" in admin.locator("[role=alert]").inner_text()
    assert admin.goto(base + "/settings").status == 200
    assert admin.locator("#change-status").count() == 0, "only an operator sets the status"
    ops.select_option("#change-status", "active")
    ops.click("#change button[type=submit]")
    assert ops.locator(".notice").inner_text() == "Saved."
    for p in (ops, admin):
        p.context.close()


def test_people_see_and_end_their_own_sessions(browser, server):
    first = new_page(browser)
    sign_in(first, server, "admin@acme.test")
    second = new_page(browser, user_agent="Second browser")
    sign_in(second, server, "admin@acme.test")
    second.click("text=Your sessions")
    rows = second.locator("tbody tr").all_inner_texts()
    assert any("(this one)" in r and "Second browser" in r for r in rows), rows
    shot(second, "sessions")
    # End the first browser's session from the second: the first is signed out at once.
    other = second.locator("tbody tr", has_not_text="(this one)").first
    with second.expect_navigation():
        other.locator("button").click()
    first.goto(server.url + "/portal/t/acme/")
    assert "/portal/sign-in" in first.url
    second.goto(server.url + "/portal/t/acme/")
    assert second.url == server.url + "/portal/t/acme/"
    for p in (first, second):
        p.context.close()


def test_tenant_settings_refuse_a_bad_webhook_and_renew_the_secret(admin, server):
    admin.goto(server.url + "/portal/t/acme/settings")
    admin.fill("#change-webhook_url", "not a url")
    with admin.expect_navigation() as nav:
        admin.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert admin.locator("#change-webhook_url-error").inner_text()
    shot(admin, "settings-refused")
    admin.fill("#change-webhook_url", "")
    admin.fill("#change-timezone", "Mars/Olympus_Mons")
    with admin.expect_navigation() as nav:
        admin.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert admin.locator("#change-timezone-error").inner_text() == "must be an IANA time zone name, such as America/New_York"
    admin.fill("#change-timezone", "America/Chicago")
    # Quiet hours: a window for automated texts the law leaves no room for is refused in words.
    admin.fill("#change-send_window_from", "21:30")
    admin.fill("#change-send_window_until", "23:00")
    with admin.expect_navigation() as nav:
        admin.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert admin.locator("#change-send_window_from-error").inner_text() == (
        "must leave at least an hour between 08:00 and 21:00, when automated texts may be sent")
    admin.fill("#change-send_window_from", "09:00")
    admin.fill("#change-send_window_until", "18:00")
    admin.click("#change button[type=submit]")
    assert admin.locator(".notice").inner_text() == "Saved."
    assert admin.locator("#change-send_window_from").input_value() == "09:00"
    assert admin.locator("#change-send_window_until").input_value() == "18:00"
    # Both blank: the law's window alone again.
    admin.fill("#change-send_window_from", "")
    admin.fill("#change-send_window_until", "")
    admin.click("#change button[type=submit]")
    assert admin.locator(".notice").inner_text() == "Saved."
    assert admin.locator("#change-send_window_from").input_value() == ""
    # Phones: a SIP server that is not a host is refused next to it; the password is never drawn.
    admin.fill("#change-sip_server", "pbx..example")
    with admin.expect_navigation() as nav:
        admin.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert admin.locator("#change-sip_server-error").inner_text().startswith("'pbx..example' is not a host name")
    admin.fill("#change-sip_server", "pbx.example.com")
    admin.select_option("#change-sip_transport", "tcp")
    admin.fill("#change-sip_username", "switchboard-gw")
    admin.fill("#change-sip_password", "pbx-digest-pass-42")
    admin.click("#change button[type=submit]")
    assert admin.locator(".notice").inner_text() == "Saved."
    assert admin.locator("#change-sip_server").input_value() == "pbx.example.com"
    assert admin.locator("#change-sip_transport").input_value() == "tcp"
    assert admin.locator("#change-sip_password").input_value() == ""
    assert "pbx-digest-pass-42" not in admin.content()
    # Blank server: SIP delivery off.
    admin.fill("#change-sip_server", "")
    admin.click("#change button[type=submit]")
    assert admin.locator(".notice").inner_text() == "Saved."
    assert admin.locator("#change-sip_username").input_value() == ""
    admin.click("nav >> text=Dashboard")
    assert admin.locator("#today").inner_text() == "Today (since midnight, America/Chicago)"
    admin.goto(server.url + "/portal/t/acme/settings")
    admin.click("text=Make a new secret")
    assert re.fullmatch(r"whsec_\S+", admin.locator("#once-webhook_secret").inner_text().strip())
    shot(admin, "settings")
