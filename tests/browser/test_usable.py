"""Usable by everyone: without JavaScript, at 360 px, by keyboard; and the operator's screens."""

from conftest import TENANT_PAGES as PAGES
from conftest import new_page, shot, sign_in


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
    seen = set()
    for _ in range(40):
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
