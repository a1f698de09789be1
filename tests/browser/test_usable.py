"""Usable by everyone: without JavaScript, at 360 px, by keyboard; and the operator's screens."""

from conftest import TENANT_PAGES as PAGES
from conftest import new_page, shot, sign_in, tab_through


def test_reads_and_forms_work_without_javascript(browser, server, globex):
    page = new_page(browser, java_script_enabled=False)
    sign_in(page, server, "admin@globex.test")
    for path in PAGES:
        res = page.goto(f"{server.url}/portal/t/globex/{path}")
        assert res.status == 200, f"{path}: {res.status}"
    page.goto(server.url + "/portal/t/globex/numbers")
    assert "Globex" in page.locator("tbody").inner_text()
    # A form is a plain form: it posts and lands on the item's page without any script.
    page.goto(server.url + "/portal/t/globex/extensions")
    page.fill("#create-extension", "250")
    page.fill("#create-name", "No script")
    with page.expect_navigation():
        page.click("#create button[type=submit]")
    assert page.locator(".notice").inner_text() == "The extension was added."
    page.click("text=Delete this extension")
    page.context.close()


def test_every_page_fits_a_360_pixel_screen(browser, server, globex):
    page = new_page(browser, viewport={"width": 360, "height": 740})
    sign_in(page, server, "admin@globex.test")
    for path in PAGES + [f"numbers/{globex['numbers']}", f"policies/{globex['policies']}"]:
        page.goto(f"{server.url}/portal/t/globex/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"/{path} is {width} px wide at 360"
    page.goto(f"{server.url}/portal/t/globex/numbers")
    shot(page, "phone-numbers")
    page.context.close()


def test_the_keyboard_reaches_everything_with_visible_focus(globex_admin, server):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/extensions")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left >= 0"), "the skip link shows when focused"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Every focusable control shows where the focus is.
    seen = tab_through(page)
    assert any(s.startswith("INPUT#create-extension") for s in seen), seen
    assert any(s.startswith("BUTTON") for s in seen), seen


def test_the_operator_sees_every_tenant(browser, server):
    page = new_page(browser)
    sign_in(page, server, "ops@example.net")
    assert page.url == server.url + "/portal/tenants"
    rows = page.locator("tbody tr").all_inner_texts()
    assert any("Acme Dental" in r for r in rows) and any("Globex Clinic" in r for r in rows), rows
    shot(page, "tenants")
    page.click("text=Globex Clinic")
    assert page.url == server.url + "/portal/t/globex/"
    assert page.locator("nav >> text=Tenants").count() == 1
    page.context.close()


def test_the_operator_sees_each_tenants_use_by_month(browser, server):
    import csv
    import datetime

    page = new_page(browser)
    sign_in(page, server, "ops@example.net")
    page.click("nav >> text=Usage")
    month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
    assert page.locator("h1").inner_text() == f"Usage in {month}"
    rows = {r.locator("th").inner_text(): r.locator("td").all_inner_texts() for r in page.locator("tbody tr").all()}
    assert "Acme Dental (acme)" in rows and "Globex Clinic (globex)" in rows, rows
    # Status, numbers, texts in, segments in, texts out, segments out, failed out.
    status, usage = server.api("GET", "/api/v1/usage")
    globex = next(u for u in usage["tenants"] if u["slug"] == "globex")
    assert rows["Globex Clinic (globex)"][1:4] == [str(globex["numbers"]), str(globex["texts_in"]),
                                                    str(globex["segments_in"])], rows
    assert globex["numbers"] >= 1
    shot(page, "usage")
    with page.expect_download() as download:
        page.click("text=Download as CSV")
    with open(download.value.path(), newline="", encoding="utf-8") as f:
        exported = {r["tenant"]: r for r in csv.DictReader(f)}
    assert exported["globex"]["numbers"] == str(globex["numbers"])
    # Another month: nothing yet; a month that is not one is refused in words.
    page.fill("#month", "2020-01")
    page.click("button:text-is('Show')")
    assert page.locator("h1").inner_text() == "Usage in 2020-01"
    assert all(t == "0" for r in page.locator("tbody tr").all() for t in r.locator("td.n").all_inner_texts()[1:])
    res = page.goto(server.url + "/portal/usage?month=2020-13")
    assert res.status == 422 and "must be a month YYYY-MM" in page.content()
    page.context.close()


def test_a_tenant_admin_has_no_usage_screen(admin, server):
    for path in ("/portal/usage", "/portal/usage.csv"):
        res = admin.goto(server.url + path)
        assert res is not None and res.status == 404, f"{path} answered {res and res.status}"
