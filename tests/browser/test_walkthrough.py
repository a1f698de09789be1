"""A tenant admin who has never seen the API sets up texting for a number from the portal alone,
then finds a customer's text in the history with its route."""

import re
import subprocess

from playwright.sync_api import expect

from conftest import NUMBER, SIM_BIN, shot


def test_a_tenant_admin_sets_up_texting_from_nothing(admin, server, sim):
    page = admin
    base = server.url + "/portal/t/acme"
    assert page.url == base + "/", "a tenant admin lands on the dashboard"
    shot(page, "dashboard-empty")

    # A provider: first with a wrong secret, which Flowroute refuses, next to the key fields.
    page.click("nav >> text=Providers")
    page.fill("#create-name", "Main account")
    page.fill("#create-access_key", "sim-access")
    page.fill("#create-secret_key", "not-the-secret")
    page.fill("#create-endpoint", sim + "/v2.2/messages")
    page.click("#create button[type=submit]")
    assert page.locator("#create-errors").is_visible()
    assert "Flowroute refused the keys" in page.locator("#create-secret_key-error").inner_text()
    assert page.locator("#create-secret_key").get_attribute("aria-invalid") == "true"
    assert page.input_value("#create-secret_key") == "", "a secret is never drawn back into the page"
    shot(page, "providers-refused")
    page.fill("#create-secret_key", "sim-secret")
    page.click("#create button[type=submit]")
    assert page.locator(".notice").inner_text() == "The provider was added."
    assert page.locator("#connection .status").inner_text() == "Connected"
    assert "sim-secret" not in page.content()
    shot(page, "provider")
    page.click("text=Check the connection now")
    page.wait_for_selector("#connection .status")
    assert page.locator("#connection .status").inner_text() == "Connected"

    # A prefix: its webhook URL, with the token Switchboard made, is shown this once.
    page.click("nav >> text=Prefixes")
    page.fill("#create-prefix", "acmein")
    page.select_option("#create-provider_id", label="Main account")
    page.click("#create button[type=submit]")
    webhook = page.locator("#once-webhook_url").inner_text().strip()
    assert re.fullmatch(re.escape(server.url) + r"/acmein\?token=[A-Za-z0-9_-]{16,}", webhook), webhook
    shot(page, "prefix-created")
    page.reload()
    assert page.locator("#once-webhook_url").count() == 0, "the token is shown once"

    # An extension.
    page.click("nav >> text=Extensions")
    page.fill("#create-extension", "101")
    page.fill("#create-name", "Front desk")
    assert page.is_checked("#create-enabled"), "a new extension starts enabled"
    page.click("#create button[type=submit]")
    assert page.locator(".notice").inner_text() == "The extension was added."
    shot(page, "extension")

    # A policy: weekday hours (the form starts with 9 to 5, Monday to Friday) and an auto-reply.
    page.click("nav >> text=Policies")
    shot(page, "policies-empty")
    page.fill("#create-name", "Front desk hours")
    page.fill("#create-timezone", "America/Chicago")
    page.fill("#create-auto_reply", "We are closed; we will text you back when we open.")
    assert page.locator(".segment-count").first.inner_text() == "50 characters, 1 segment (GSM-7)"
    page.fill("#create-keyword-0", "BILLING")
    page.fill("#create-keyword-to-0", "101")
    page.click("#create button[type=submit]")
    assert page.locator(".notice").inner_text() == "The policy was added."
    assert page.input_value("#change-open-mon") == "09:00"
    assert page.input_value("#change-keyword-0") == "BILLING"
    shot(page, "policy")

    # The number, routed to 101 under that policy.
    page.click("nav >> text=Numbers")
    page.fill("#create-e164", "+" + NUMBER)
    page.fill("#create-name", "Main line")
    page.select_option("#create-prefix", "acmein")
    page.select_option("#create-policy_id", label="Front desk hours")
    page.locator("#create fieldset:has(legend:text-is('Destinations'))").get_by_label("101 Front desk").check()
    page.locator("#create fieldset:has(legend:text-is('Senders'))").get_by_label("101 Front desk").check()
    page.click("#create button[type=submit]")
    assert page.locator(".notice").inner_text() == "The number was added."
    shot(page, "number")
    page.click("text=All numbers")
    row = page.locator("tbody tr", has_text="+" + NUMBER)
    assert "101" in row.inner_text() and "Front desk hours" in row.inner_text()
    shot(page, "numbers")

    # The route tester: what the policy does with a text, at a time, before any is sent.
    page.click("nav >> text=Route tester")
    page.select_option("#number", "+" + NUMBER)
    page.fill("#from", "+12065550123")
    page.fill("#text", "billing question about my invoice")
    page.fill("#at", "2026-12-12T10:00")  # a Saturday, closed
    page.click("form.fields button[type=submit]")
    answer = page.locator("section.answer dl").inner_text()
    assert "the keyword rule BILLING" in answer and "Saturday 2026-12-12 10:00 CST" in answer, answer
    page.fill("#text", "Is my crown ready?")
    page.click("form.fields button[type=submit]")
    answer = page.locator("section.answer dl").inner_text()
    assert "after hours" in answer and "We are closed" in answer, answer
    page.fill("#at", "2026-12-14T10:00")  # a Monday, open
    page.click("form.fields button[type=submit]")
    answer = page.locator("section.answer dl").inner_text()
    assert "business hours" in answer and "Sent back\nnothing" in answer, answer
    shot(page, "route-tester")
    page.fill("#from", "12065550123")
    page.click("form.fields button[type=submit]")
    assert "E.164" in page.locator("#from-error").inner_text()

    # A customer texts the number; Flowroute posts it to the prefix's webhook URL.
    subprocess.run(
        [SIM_BIN, "inbound", "--url", webhook, "--from", "12065550123", "--to", NUMBER, "--body", "Is my crown ready?"],
        check=True,
        timeout=30,
    )
    page.click("nav >> text=Messages")
    row = page.locator("tbody tr", has_text="Is my crown ready?")
    expect(row).to_have_count(1)
    cells = row.locator("td").all_inner_texts()
    assert cells[:3] == ["in", "+" + NUMBER, "+12065550123"], cells
    assert cells[-1] == "101", f"routed to extension 101: {cells}"
    shot(page, "messages")

    # The history filtered by day (in the tenant's zone), refused for a day that is not one, and
    # exported as CSV.
    page.goto(server.url + "/portal/t/acme/messages?from=2099-01-01")
    assert page.locator("text=No messages match.").count() == 1
    res = page.goto(server.url + "/portal/t/acme/messages?from=2026-13-01")
    assert res.status == 422 and page.locator("#from-error").inner_text() == "must be a day, YYYY-MM-DD"
    page.goto(server.url + "/portal/t/acme/messages?remote=%2B12065550123&direction=inbound")
    with page.expect_download() as download:
        page.click("text=Download these messages as CSV")
    import csv
    with open(download.value.path(), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["body"] for r in rows] == ["Is my crown ready?"], rows
    assert rows[0]["routed_to"] == "101" and rows[0]["number"] == "+" + NUMBER and rows[0]["direction"] == "inbound"
    page.click("nav >> text=Messages")
    row = page.locator("tbody tr", has_text="Is my crown ready?")
    row.locator("a").click()
    assert page.locator("h1").inner_text() == "Message from +12065550123"
    details = page.locator("dl.details").inner_text()
    assert "Is my crown ready?" in details and "101" in details
    shot(page, "message")

    page.click("nav >> text=Dashboard")
    figures = dict(zip(page.locator(".figure dt").all_inner_texts(), page.locator(".figure dd").all_inner_texts()))
    assert int(figures["Texts in"]) >= 1
    shot(page, "dashboard")
