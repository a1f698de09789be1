"""Each screen's change and refusal paths, as Globex's admin: the API's refusals shown next to the
field they name, changes saved, an item deleted."""

from playwright.sync_api import expect

from conftest import GLOBEX_NUMBER, UNHELD_NUMBER, shot


def error_of(page, form, field):
    return page.locator(f"#{form}-{field}-error").inner_text()


def test_extensions_refuse_a_taken_extension_and_save_changes(globex_admin, server, globex):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/extensions")
    page.fill("#create-extension", globex["extensions"])
    page.fill("#create-name", "Twin")
    with page.expect_navigation() as nav:
        page.click("#create button[type=submit]")
    assert nav.value.status == 409
    assert "201" in page.locator("#create-errors").inner_text()
    assert page.input_value("#create-name") == "Twin", "what was typed stays"
    shot(page, "extensions-refused")

    page.goto(f"{server.url}/portal/t/globex/extensions/{globex['extensions']}")
    # A SIP user that is not the user part of an address is refused next to the field.
    page.fill("#change-sip_user", "201@pbx")
    with page.expect_navigation() as nav:
        page.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert error_of(page, "change", "sip_user").startswith("must be 1 to 64 letters")
    page.fill("#change-sip_user", "201")
    page.fill("#change-email", "front@globex.example")
    page.fill("#change-email_delay_minutes", "10")
    page.fill("#change-name", "Front reception")
    page.uncheck("#change-enabled")
    page.click("#change button[type=submit]")
    assert page.locator(".notice").inner_text() == "Saved."
    assert page.input_value("#change-name") == "Front reception"
    assert page.input_value("#change-sip_user") == "201"
    assert page.input_value("#change-email") == "front@globex.example"
    assert page.input_value("#change-email_delay_minutes") == "10"
    assert not page.is_checked("#change-enabled")
    shot(page, "extension-changed")
    page.click("text=All extensions")
    assert "no (disabled)" in page.locator("tbody tr", has_text="201").inner_text()
    page.goto(f"{server.url}/portal/t/globex/extensions/{globex['extensions']}")
    page.check("#change-enabled")
    page.fill("#change-name", "Reception")
    page.fill("#change-sip_user", "")
    page.fill("#change-email", "")
    page.click("#change button[type=submit]")
    assert page.locator(".notice").inner_text() == "Saved."
    assert page.input_value("#change-sip_user") == ""
    assert page.input_value("#change-email") == ""


def test_an_extension_is_deleted(globex_admin, server):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/extensions")
    page.fill("#create-extension", "299")
    page.fill("#create-name", "Temporary")
    page.click("#create button[type=submit]")
    assert page.locator("h1").inner_text() == "Extension 299"
    page.click("text=Delete this extension")
    assert page.url.endswith("/portal/t/globex/extensions?done=deleted")
    assert page.locator(".notice").inner_text() == "The extension was deleted."
    assert page.locator("tbody tr", has_text="299").count() == 0


def test_numbers_are_found_by_digits_or_name(globex_admin, server, globex):
    page = globex_admin
    # Without JavaScript, the search is a plain GET form.
    res = page.goto(server.url + "/portal/t/globex/numbers?q=0101")
    assert res.status == 200 and page.locator("#results tbody tr").count() == 1
    page.goto(server.url + "/portal/t/globex/numbers?q=nothing-like-it")
    assert page.locator("#results").inner_text().startswith("No numbers match")
    # Typed, without pressing anything: htmx asks as the person types and swaps the results in
    # (the assertions wait for the swap).
    page.goto(server.url + "/portal/t/globex/numbers")
    page.type("#q", "globex", delay=20)
    page.wait_for_url("**/numbers?q=globex")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.fill("#q", "")
    page.type("#q", "zzz", delay=20)
    page.wait_for_url("**/numbers?q=zzz")
    expect(page.locator("#results")).to_contain_text("No numbers match")
    expect(page.locator("#results tbody tr")).to_have_count(0)


def test_numbers_refuse_a_number_the_account_does_not_hold(globex_admin, server, globex):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/numbers")
    page.fill("#create-e164", "+" + UNHELD_NUMBER)
    page.fill("#create-name", "Not ours")
    with page.expect_navigation() as nav:
        page.click("#create button[type=submit]")
    assert nav.value.status == 422
    assert error_of(page, "create", "e164") == f"the provider's Flowroute account does not hold +{UNHELD_NUMBER}"
    assert page.locator("#create-e164").get_attribute("aria-invalid") == "true"
    shot(page, "numbers-refused")
    page.fill("#create-e164", "202-555-01")
    page.click("#create button[type=submit]")
    assert error_of(page, "create", "e164") == "must be an E.164 number: '+' then 8 to 15 digits, such as +12025550100"

    page.goto(f"{server.url}/portal/t/globex/numbers/+{GLOBEX_NUMBER}")
    assert page.locator("#change-e164").count() == 0, "the number itself cannot change"
    page.fill("#change-name", "Globex main line")
    page.select_option("#change-policy_id", label="Globex hours")
    page.click("#change button[type=submit]")
    assert page.locator(".notice").inner_text() == "Saved."
    status, number = server.api("GET", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}")
    assert number["name"] == "Globex main line" and number["policy_id"] == globex["policies"]
    page.select_option("#change-policy_id", label="None")
    page.click("#change button[type=submit]")
    status, number = server.api("GET", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}")
    assert number["policy_id"] is None, "choosing None clears the policy"


def test_policies_put_each_refusal_beside_its_field(globex_admin, server):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/policies")
    page.fill("#create-name", "Broken")
    page.fill("#create-timezone", "Mars/Olympus_Mons")
    page.fill("#create-open-tue", "18:00")
    page.fill("#create-close-tue", "08:00")
    page.fill("#create-keyword-1", "STOP")
    page.fill("#create-keyword-to-1", "201")
    page.fill("#create-holidays", "2026-12-25 Christmas Day\n\n2026-02-30 Not a day")
    with page.expect_navigation() as nav:
        page.click("#create button[type=submit]")
    assert nav.value.status == 422
    assert error_of(page, "create", "timezone") == "must be an IANA time zone name, such as America/New_York"
    assert error_of(page, "create", "close-tue") == "must be after start; split a window that crosses midnight in two"
    assert error_of(page, "create", "keyword-1") == "'STOP' is a compliance keyword that Switchboard handles itself"
    assert page.locator("#create-keyword-0-error").count() == 0, "the refusal names the row it is about"
    assert error_of(page, "create", "holidays") == "Holiday 2: must be a date YYYY-MM-DD, such as 2026-12-25"
    assert page.input_value("#create-open-tue") == "18:00", "what was typed stays"
    shot(page, "policy-refused")

    # A long auto-reply counts its segments as it is typed: UCS-2 once a character needs it.
    page.fill("#create-auto_reply", "x" * 161)
    assert page.locator("#create-auto_reply-segments").inner_text() == "161 characters, 2 segments (GSM-7)"
    page.fill("#create-auto_reply", "Closed 🙂")
    assert page.locator("#create-auto_reply-segments").inner_text() == "9 characters, 1 segment (UCS-2)"

    # Holidays, one a line, are kept with their names and shown again as written.
    page.fill("#create-timezone", "America/Denver")
    page.fill("#create-close-tue", "20:00")
    page.fill("#create-keyword-1", "")
    page.fill("#create-keyword-to-1", "")
    page.fill("#create-holidays", "2026-12-25 Christmas Day\n2027-01-01")
    page.click("#create button[type=submit]")
    expect(page.locator(".notice")).to_have_text("The policy was added.")
    assert page.input_value("#change-holidays") == "2026-12-25 Christmas Day\n2027-01-01"
    status, listed = server.api("GET", "/api/v1/tenants/globex/policies")
    broken = next(p for p in listed["items"] if p["name"] == "Broken")
    assert broken["holidays"] == [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2027-01-01", "name": None}]
    shot(page, "policy-holidays")
    page.click("text=Delete this policy")


def test_providers_refuse_wrong_keys_on_a_change_and_keep_the_saved_ones(globex_admin, server, globex):
    page = globex_admin
    page.goto(f"{server.url}/portal/t/globex/providers/{globex['providers']}")
    page.fill("#change-secret_key", "wrong-secret")
    with page.expect_navigation() as nav:
        page.click("#change button[type=submit]")
    assert nav.value.status == 422
    assert "Flowroute refused the keys" in error_of(page, "change", "secret_key")
    page.fill("#change-name", "Globex account")
    page.click("#change button[type=submit]")
    assert page.locator(".notice").inner_text() == "Saved."
    assert page.locator("#connection .status").inner_text() == "Connected", "a blank secret keeps the saved one"
    status, provider = server.api("GET", f"/api/v1/tenants/globex/providers/{globex['providers']}")
    assert provider["name"] == "Globex account"


def test_prefixes_refuse_a_reserved_name(globex_admin, server):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/prefixes")
    page.fill("#create-prefix", "portal")
    with page.expect_navigation() as nav:
        page.click("#create button[type=submit]")
    assert nav.value.status == 422
    assert "reserved" in error_of(page, "create", "prefix")
    shot(page, "prefixes")


def test_an_opt_out_is_lifted_with_a_reason_kept_in_the_audit_log(globex_admin, server, globex):
    import subprocess

    from conftest import SIM_BIN

    subprocess.run(
        [SIM_BIN, "inbound", "--url", globex["webhook_url"], "--from", "12065550999", "--to", GLOBEX_NUMBER,
         "--body", "STOP"],
        check=True,
        timeout=30,
    )
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/opt-outs")
    row = page.locator("tbody tr", has_text="+12065550999")
    assert row.count() == 1 and "STOP" in row.inner_text()
    shot(page, "opt-outs")
    row.get_by_label("Reason").fill("Asked in writing to be texted again")
    row.locator("button").click()
    assert page.locator(".notice").inner_text() == "The opt-out was lifted: the number may be texted again."
    assert page.locator("tbody tr", has_text="+12065550999").count() == 0
    page.click("nav >> text=Audit log")
    first = page.locator("tbody tr").first.inner_text()
    assert "/opt-outs/+12065550999/lift" in first and "Asked in writing to be texted again" in first, first
    shot(page, "audit")


def test_contacts_come_in_and_go_out_as_csv(globex_admin, server):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/contacts")
    bad = "name,phone\nAnn Lee,+12065550301\nBob,555-01\n"
    page.set_input_files("#import-file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    with page.expect_navigation() as nav:
        page.click("button:text-is('Import')")
    assert nav.value.status == 422
    problems = page.locator("[role=alert] li").all_inner_texts()
    assert problems == ["line 3, phone: must be an E.164 number: '+' then 8 to 15 digits, such as +12025550100"], problems
    shot(page, "contacts-import-refused")
    status, listed = server.api("GET", "/api/v1/tenants/globex/contacts")
    assert "+12065550301" not in [c["phone"] for c in listed["items"]], "a refused file imports nothing"

    page.goto(server.url + "/portal/t/globex/contacts")
    good = "Company,Name,Phone\nLee Dental,Ann Lee,(206) 555-0301\n,=cmd|' /C calc'!A0,+12065550302\n"
    page.set_input_files("#import-file", files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}])
    page.click("button:text-is('Import')")
    assert page.locator(".notice").inner_text() == "Imported: 2 added, 0 updated, 1 company made."
    rows = page.locator("tbody tr").all_inner_texts()
    assert any("Ann Lee" in r and "+12065550301" in r and "Lee Dental" in r for r in rows), rows
    shot(page, "contacts")

    with page.expect_download() as download:
        page.click("text=Download every contact as CSV")
    import csv

    with open(download.value.path(), newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    by_phone = {r["phone"]: r for r in exported}
    assert by_phone["+12065550301"]["company"] == "Lee Dental"
    assert by_phone["+12065550302"]["name"] == "'=cmd|' /C calc'!A0", "a formula is defused in the export"


def test_companies_come_in_and_go_out_as_csv(globex_admin, server):
    import csv

    page = globex_admin
    page.goto(server.url + "/portal/t/globex/companies")
    bad = "name\nRoe Roofing\nroe roofing\n"
    page.set_input_files("#import-file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    with page.expect_navigation() as nav:
        page.click("button:text-is('Import')")
    assert nav.value.status == 422
    problems = page.locator("[role=alert] li").all_inner_texts()
    assert problems == ["line 3, name: 'roe roofing' is on an earlier row too"], problems
    page.goto(server.url + "/portal/t/globex/companies")
    good = "Name\nRoe Roofing\nStark Dental\n"
    page.set_input_files("#import-file", files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}])
    page.click("button:text-is('Import')")
    assert page.locator(".notice").inner_text() == "Imported: 2 added, 0 already there."
    rows = page.locator("tbody tr").all_inner_texts()
    assert any("Roe Roofing" in r for r in rows) and any("Stark Dental" in r for r in rows), rows
    shot(page, "companies")
    with page.expect_download() as download:
        page.click("text=Download every company as CSV")
    with open(download.value.path(), newline="", encoding="utf-8") as f:
        exported = {r["name"]: r for r in csv.DictReader(f)}
    assert exported["Roe Roofing"]["contacts"] == "0", exported
