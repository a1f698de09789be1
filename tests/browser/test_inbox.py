"""The inbox, as an extension user of Globex: conversations with unread counts and the contact's
name, search, a thread with pictures, a reply that reaches Flowroute (the simulator) and shows its
state in words, an opted-out remote's note instead of a reply box; and nobody else's texts."""

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect

from conftest import GLOBEX_NUMBER, SIM_BIN, check_axe, new_page, shot, sign_in, tab_through


# A 2×2 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
)


def png(width, height, rgb):
    """A PNG of one colour."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def inbound(globex, remote, body, media=()):
    args = [SIM_BIN, "inbound", "--url", globex["webhook_url"], "--from", remote, "--to", GLOBEX_NUMBER, "--body", body]
    for m in media:
        args += ["--media-url", m]
    subprocess.run(args, check=True, timeout=30)


def sent_to(sim, remote):
    with urllib.request.urlopen(sim + "/sim/received", timeout=5) as res:
        return [a for a in json.load(res)["accepted"] if a["to"] == remote.lstrip("+")]


def test_an_extension_user_reads_and_answers_texts(browser, server, sim, globex):
    t = "/api/v1/tenants/globex"
    assert server.api("PATCH", f"{t}/numbers/+{GLOBEX_NUMBER}", {"senders": ["201"]})[0] == 200
    assert server.api("POST", f"{t}/contacts", {"name": "Dana Doe", "phone": "+12065550888"})[0] == 201
    server.user("desk@globex.test", "Front desk", "extension", "globex", "201")
    inbound(globex, "12065550888", "Hello, is the dentist in today?")
    inbound(globex, "12065550889", "STOP")

    page = new_page(browser)
    sign_in(page, server, "desk@globex.test")
    expect(page).to_have_url(server.url + "/portal/inbox")
    dana = page.locator("ul.conversations li", has_text="Dana Doe")
    expect(dana).to_contain_text("1 unread")
    shot(page, "inbox")
    # Found by text, by name and by digits; not by what it does not say.
    for q in ("dentist", "dana", "555 0888"):
        page.fill("#q", q)
        page.click("button:text-is('Find')")
        expect(page.locator("ul.conversations li")).to_have_count(1)
    page.fill("#q", "invoice")
    page.click("button:text-is('Find')")
    expect(page.locator("main")).to_contain_text("No conversation matches.")

    page.goto(server.url + "/portal/inbox")
    page.locator("ul.conversations li", has_text="Dana Doe").locator("a").click()
    expect(page.locator("h1")).to_have_text("Texts with Dana Doe")
    expect(page.locator("ol.thread li")).to_have_count(1)
    page.fill("#body", "Yes, come by at 3 🙂")
    expect(page.locator("#body-segments")).to_have_text("20 characters, 1 segment (UCS-2)")
    page.click("button:text-is('Send')")
    expect(page.locator(".notice")).to_have_text("Your reply is queued; its state shows below.")
    mine = page.locator("ol.thread li.out")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Sent from +" + GLOBEX_NUMBER + " by 201")
    deadline = time.monotonic() + 15
    while not sent_to(sim, "+12065550888"):
        assert time.monotonic() < deadline, "the reply never reached Flowroute"
        time.sleep(0.2)
    assert sent_to(sim, "+12065550888")[0]["body"] == "Yes, come by at 3 🙂"
    # Its receipt comes back: the state reads Delivered once the page is read again.
    deadline = time.monotonic() + 15
    while True:
        page.reload()
        if page.locator("ol.thread li.out .state").inner_text() == "Delivered":
            break
        assert time.monotonic() < deadline, page.locator("ol.thread li.out .state").inner_text()
        time.sleep(0.3)
    shot(page, "inbox-thread")
    page.goto(server.url + "/portal/inbox")
    expect(page.locator("ul.conversations li", has_text="Dana Doe")).not_to_contain_text("unread")

    # Whoever texted STOP gets no reply box, and the page says why.
    page.goto(server.url + "/portal/inbox/+12065550889")
    expect(page.locator("main")).to_contain_text("opted out of texts from +" + GLOBEX_NUMBER)
    assert page.locator("#body").count() == 0
    shot(page, "inbox-opted-out")
    # A reply posted anyway is refused in words, and nothing is sent.
    csrf = page.get_attribute("input[name=csrf]", "value")
    res = page.request.post(page.url + "/reply",
                            multipart={"csrf": csrf, "body": "Please?", "from": "+" + GLOBEX_NUMBER},
                            headers={"origin": server.url})
    assert res.status == 422 and "has opted out" in res.text(), res.status
    assert sent_to(sim, "+12065550889") == []
    page.context.close()


def test_nobody_else_reads_a_tenants_inbox(browser, server, admin, globex, globex_admin):
    inbound(globex, "12065550890", "Private to Globex")
    globex_admin.goto(server.url + "/portal/inbox/+12065550890")
    thread = globex_admin.url
    assert "/portal/inbox/+" not in thread, "the number's link opens its conversation"
    # Acme's admin: none of Globex's conversations, and its thread is not found, by number or by id.
    admin.goto(server.url + "/portal/inbox?show=all")
    expect(admin.locator("main")).not_to_contain_text("+12065550890")
    csrf = admin.get_attribute("input[name=csrf]", "value")
    for url in (server.url + "/portal/inbox/+12065550890", thread):
        res = admin.goto(url)
        assert res.status == 404, url
    for action in ("take", "done", "reopen", "letgo"):
        res = admin.request.post(f"{thread}/{action}", form={"csrf": csrf},
                                 headers={"origin": server.url}, max_redirects=0)
        assert res.status == 404, (action, res.status)
    res = admin.request.post(f"{thread}/reply", multipart={"csrf": csrf, "body": "Hi"},
                             headers={"origin": server.url}, max_redirects=0)
    assert res.status == 404, res.status
    # Another extension of Globex, which the text was not routed to, cannot read, take or answer it.
    t = "/api/v1/tenants/globex"
    server.api("POST", f"{t}/extensions", {"extension": "209", "name": "Back office"})
    server.user("back@globex.test", "Back office", "extension", "globex", "209")
    page = new_page(browser)
    sign_in(page, server, "back@globex.test")
    expect(page.locator("main")).to_contain_text("No open conversations.")
    for url in (server.url + "/portal/inbox/+12065550890", thread):
        res = page.goto(url)
        assert res.status == 404, url
    page.goto(server.url + "/portal/inbox")
    csrf = page.get_attribute("input[name=csrf]", "value")
    res = page.request.post(thread + "/reply",
                            multipart={"csrf": csrf, "body": "Hi", "from": "+" + GLOBEX_NUMBER},
                            headers={"origin": server.url}, max_redirects=0)
    assert res.status == 404, res.status
    res = page.request.post(thread + "/take", form={"csrf": csrf}, headers={"origin": server.url}, max_redirects=0)
    assert res.status == 404, res.status
    # An extension user has none of the tenant's admin screens.
    res = page.goto(server.url + "/portal/t/globex/numbers")
    assert res.status in (403, 404), res.status
    page.context.close()


def test_a_picture_shows_as_a_thumbnail_that_opens_full_size(browser, server, globex):
    import http.server
    import threading

    # The picture, served where Switchboard fetches it from (as it would from Flowroute's media host).
    png = PNG

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        server.user("photos@globex.test", "Photos", "extension", "globex", "201")
        inbound(globex, "12065550891", "Here is the crack in my crown",
                media=[f"http://127.0.0.1:{host.server_address[1]}/crown.png"])
        page = new_page(browser)
        sign_in(page, server, "photos@globex.test")
        deadline = time.monotonic() + 15
        while True:
            page.goto(server.url + "/portal/inbox/+12065550891")
            thumb = page.locator("img.thumb")
            expect(thumb).to_have_attribute("alt", "Picture 1 from +12065550891")
            if page.evaluate("() => { const i = document.querySelector('img.thumb'); return i.complete && i.naturalWidth }") == 2:
                break
            assert time.monotonic() < deadline, "the picture was never fetched"
            time.sleep(0.3)
        href = page.locator("img.thumb").locator("xpath=..").get_attribute("href")
        res = page.request.get(server.url + href)
        assert res.status == 200 and res.headers["content-type"] == "image/png" and res.body() == png
        shot(page, "inbox-picture")
        page.context.close()
    finally:
        host.shutdown()


def test_two_users_of_a_shared_number_see_texts_and_receipts_live(browser, server, sim, globex):
    """Two users of extension 201 (a shared number's front desk), each in a browser of their own:
    a new text shows in both without reloading, one's reply shows in the other's, and its receipt
    turns it to Delivered in both — each within a couple of seconds."""
    server.user("desk-a@globex.test", "Desk A", "extension", "globex", "201")
    server.user("desk-b@globex.test", "Desk B", "extension", "globex", "201")
    assert server.api("PATCH", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}", {"senders": ["201"]})[0] == 200
    inbound(globex, "12065550892", "First question")
    a, b = new_page(browser), new_page(browser)
    sign_in(a, server, "desk-a@globex.test")
    sign_in(b, server, "desk-b@globex.test")
    a.goto(server.url + "/portal/inbox/+12065550892")
    b.goto(server.url + "/portal/inbox")
    expect(a.locator("ol.thread li")).to_have_count(1)
    # Let both streams connect before the text arrives (a connection's first read covers the gap anyway).
    time.sleep(1)
    inbound(globex, "12065550892", "Second question, are you there?")
    # Within a second of Flowroute's post being answered, both pages show it.
    arrived = time.monotonic()
    expect(a.locator("ol.thread li")).to_have_count(2, timeout=1000)
    expect(b.locator("ul.conversations li", has_text="+12065550892")).to_contain_text("2 unread", timeout=1000)
    took = time.monotonic() - arrived
    assert took < 1.0, f"{took:.2f} s"
    print(f"a new text showed on both pages {took * 1000:.0f} ms after Flowroute's post was answered")
    expect(a.locator("ol.thread li").last).to_contain_text("Second question")
    expect(a.locator("#live-announce")).to_have_text("New text from +12065550892")
    # B answers with a picture; A sees the reply, then its receipt, without reloading.
    b.goto(server.url + "/portal/inbox/+12065550892")
    b.fill("#body", "Yes, here; this is the shade")
    b.set_input_files("#attachment", files=[{"name": "shade.png", "mimeType": "image/png", "buffer": PNG}])
    b.click("button:text-is('Send')")
    expect(a.locator("ol.thread li.out")).to_have_count(1, timeout=3000)
    expect(a.locator("ol.thread li.out img.thumb")).to_have_js_property("naturalWidth", 2)
    expect(a.locator("ol.thread li.out .state")).to_have_text("Delivered", timeout=5000)
    expect(b.locator("ol.thread li.out .state")).to_have_text("Delivered", timeout=5000)
    assert a.locator("ol.thread li").count() == 3, "each text once"
    sent = sent_to(sim, "+12065550892")
    assert len(sent) == 1 and len(sent[0]["media_fetched"]) == 1 and sent[0]["media_fetched"][0]["size"] == len(PNG)
    shot(a, "inbox-live")
    a.context.close()
    b.context.close()


def test_a_thread_resumes_after_a_server_restart_with_nothing_missed_or_twice(browser, server, globex):
    server.user("desk-c@globex.test", "Desk C", "extension", "globex", "201")
    inbound(globex, "12065550893", "Before the restart")
    page = new_page(browser)
    sign_in(page, server, "desk-c@globex.test")
    page.goto(server.url + "/portal/inbox/+12065550893")
    expect(page.locator("ol.thread li")).to_have_count(1)
    time.sleep(1)
    server.restart()
    # Texts that arrive before the page's stream is back are read when it reconnects.
    inbound(globex, "12065550893", "Right after the restart")
    inbound(globex, "12065550893", "And one more")
    expect(page.locator("ol.thread li")).to_have_count(3, timeout=15000)
    bodies = page.locator("ol.thread li .body").all_inner_texts()
    assert bodies == ["Before the restart", "Right after the restart", "And one more"], bodies
    # And the stream is live again afterwards.
    inbound(globex, "12065550893", "Still there?")
    expect(page.locator("ol.thread li")).to_have_count(4, timeout=5000)
    page.context.close()


def test_the_inbox_installs_as_an_app(browser, server):
    page = new_page(browser)
    sign_in(page, server, "admin@globex.test")
    page.goto(server.url + "/portal/inbox")
    href = page.get_attribute("link[rel=manifest]", "href")
    res = page.request.get(server.url + href)
    assert res.status == 200 and res.headers["content-type"] == "application/manifest+json"
    manifest = res.json()
    assert manifest["start_url"] == "/portal/inbox" and manifest["display"] == "standalone"
    sizes = {i["sizes"]: i["src"] for i in manifest["icons"]}
    assert set(sizes) == {"192x192", "512x512"}
    for src in sizes.values():
        icon = page.request.get(server.url + src)
        assert icon.status == 200 and icon.headers["content-type"] == "image/png" and icon.body()[:4] == b"\x89PNG"
    # The browser itself finds the manifest and its icons (no CSP refusal).
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.reload()
    assert not [e for e in errors if "manifest" in e.lower()], errors
    page.context.close()


def test_notifications_are_asked_for_only_on_a_click_and_tell_of_new_texts(browser, server, globex):
    server.user("desk-d@globex.test", "Desk D", "extension", "globex", "201")
    context = browser.new_context(bypass_csp=True)
    # The page is read as if in another tab, and each notification it makes is recorded.
    context.add_init_script("""
        Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
        window.__asked = 0; window.__shown = [];
        window.Notification = class { constructor(title, o) { window.__shown.push(o.body); } };
        window.Notification.permission = 'default';
        window.Notification.requestPermission = () => { window.__asked += 1; window.Notification.permission = 'granted';
                                                       return Promise.resolve('granted'); };
    """)
    page = context.new_page()
    sign_in(page, server, "desk-d@globex.test")
    page.goto(server.url + "/portal/inbox")
    button = page.locator("#notify")
    expect(button).to_be_visible()
    assert page.evaluate("window.__asked") == 0, "nothing is asked before the click"
    button.click()
    expect(button).to_be_hidden()
    assert page.evaluate("window.__asked") == 1
    time.sleep(1)
    inbound(globex, "12065550894", "Are you open on Saturday?")
    page.wait_for_function("window.__shown.length > 0", timeout=5000)
    assert page.evaluate("window.__shown") == ["New text from +12065550894"]
    context.close()


def test_a_quick_reply_made_by_the_admin_is_picked_in_the_reply_box(browser, server, sim, globex, globex_admin):
    page = globex_admin
    page.goto(server.url + "/portal/t/globex/reply-templates")
    page.fill("#create-name", "Hours")
    page.fill("#create-body", "")
    with page.expect_navigation() as nav:
        page.click("#create button[type=submit]")
    assert nav.value.status == 422, "a quick reply needs its text"
    page.fill("#create-name", "Hours")
    page.fill("#create-body", "We are open 8 to 5, Monday to Friday.")
    page.click("#create button[type=submit]")
    expect(page.locator(".notice")).to_have_text("The quick reply was added.")
    shot(page, "quick-reply")
    server.user("desk-e@globex.test", "Desk E", "extension", "globex", "201")
    assert server.api("PATCH", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}", {"senders": ["201"]})[0] == 200
    inbound(globex, "12065550895", "When are you open?")
    desk = new_page(browser)
    sign_in(desk, server, "desk-e@globex.test")
    desk.goto(server.url + "/portal/inbox/+12065550895")
    desk.select_option("#template", label="Hours")
    expect(desk.locator("#body")).to_have_value("We are open 8 to 5, Monday to Friday.")
    expect(desk.locator("#body-segments")).to_have_text("37 characters, 1 segment (GSM-7)")
    desk.fill("#body", desk.input_value("#body") + " See you!")
    desk.click("button:text-is('Send')")
    expect(desk.locator("ol.thread li.out .body")).to_have_text("We are open 8 to 5, Monday to Friday. See you!")
    deadline = time.monotonic() + 15
    while not sent_to(sim, "+12065550895"):
        assert time.monotonic() < deadline, "the reply never reached Flowroute"
        time.sleep(0.2)
    desk.context.close()


def test_on_a_shared_number_one_takes_a_conversation_and_the_other_sees_who_has_it(browser, server, globex):
    """Two users of extension 201: one takes a conversation and the other's page says so within a
    second; unread counts are each person's; done moves it out of the open list until the
    customer writes again."""
    server.user("pair-a@globex.test", "Pat Able", "extension", "globex", "201")
    server.user("pair-b@globex.test", "Sam Baker", "extension", "globex", "201")
    inbound(globex, "12065550896", "Can someone call me back?")
    a, b = new_page(browser), new_page(browser)
    sign_in(a, server, "pair-a@globex.test")
    sign_in(b, server, "pair-b@globex.test")
    row = lambda page: page.locator("ul.conversations li", has_text="+12065550896")
    expect(row(b)).to_contain_text("1 unread")
    a.goto(server.url + "/portal/inbox/+12065550896")
    expect(a.locator(".holder").first).to_have_text("No one has taken this conversation.")
    time.sleep(1)
    # Pat read it; Sam has not: unread counts are each person's.
    b.reload()
    expect(row(b)).to_contain_text("1 unread")
    a.click("button:text-is('Take it')")
    expect(a.locator(".notice")).to_have_text("You have this conversation now.")
    # Within a second of Pat's page saying so, Sam's list shows who has it.
    taken = time.monotonic()
    expect(row(b)).to_contain_text("Pat Able has it", timeout=1000)
    assert time.monotonic() - taken < 1.0
    expect(a.locator(".handling .holder")).to_have_text("You have this conversation.")
    b.goto(server.url + "/portal/inbox?show=mine")
    expect(b.locator("main")).to_contain_text("None here.")
    b.goto(server.url + "/portal/inbox/+12065550896")
    expect(b.locator(".handling .holder")).to_have_text("Pat Able has this conversation.")
    check_axe(b)
    shot(b, "inbox-taken")
    # Sam cannot let go of what Pat has; Pat marks it done, and Sam's page shows it live.
    csrf = b.get_attribute("input[name=csrf]", "value")
    res = b.request.post(b.url + "/letgo", form={"csrf": csrf}, headers={"origin": server.url}, max_redirects=0)
    assert res.status == 409 and "only the person who has this conversation" in res.text(), res.status
    a.click("button:text-is('Mark done')")
    expect(b.locator(".handling .holder")).to_contain_text("It is marked done.", timeout=1000)
    a.goto(server.url + "/portal/inbox")
    expect(row(a)).to_have_count(0)
    a.goto(server.url + "/portal/inbox?show=done")
    expect(row(a)).to_contain_text("Done; you had it")
    # The customer writes again: it is open again, still Pat's.
    inbound(globex, "12065550896", "Hello again")
    a.goto(server.url + "/portal/inbox?show=mine")
    expect(row(a)).to_contain_text("1 unread")
    expect(row(a)).to_contain_text("You have it")
    a.context.close()
    b.context.close()


def test_a_picture_reply_is_fetched_by_flowroute_from_the_link_switchboard_gave_it(browser, server, sim, globex):
    import hashlib

    assert server.api("PATCH", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}", {"senders": ["201"]})[0] == 200
    server.user("pics@globex.test", "Pics", "extension", "globex", "201")
    inbound(globex, "12065550897", "Which crown colour do you mean?")
    page = new_page(browser)
    sign_in(page, server, "pics@globex.test")
    page.goto(server.url + "/portal/inbox/+12065550897")
    # Refused in words beside the field, the typed text kept, nothing sent: a file that is no
    # picture (whatever its name says), and a picture over Flowroute's limit.
    for name, data, why in [
        ("notes.png", b"just some text", "must be a JPEG, PNG or GIF picture"),
        ("huge.png", PNG[:16] + b"\0" * 800_000, "the picture is 801 KB; Flowroute sends pictures of at most 767 KB"),
    ]:
        page.fill("#body", "This one")
        page.set_input_files("#attachment", files=[{"name": name, "mimeType": "image/png", "buffer": data}])
        with page.expect_navigation() as nav:
            page.click("button:text-is('Send')")
        assert nav.value.status == 422, name
        expect(page.locator("#attachment-error")).to_contain_text(why)
        expect(page.locator("#body")).to_have_value("This one")
    check_axe(page)
    assert sent_to(sim, "+12065550897") == []
    shade = png(160, 100, (214, 196, 160))
    page.set_input_files("#attachment", files=[{"name": "shade-A2.png", "mimeType": "image/png", "buffer": shade}])
    page.click("button:text-is('Send')")
    expect(page.locator(".notice")).to_have_text("Your reply is queued; its state shows below.")
    mine = page.locator("ol.thread li.out")
    expect(mine.locator("img.thumb")).to_have_attribute("alt", "Picture 1 sent to +12065550897")
    deadline = time.monotonic() + 15
    while not sent_to(sim, "+12065550897"):
        assert time.monotonic() < deadline, "the picture never reached Flowroute"
        time.sleep(0.2)
    sent = sent_to(sim, "+12065550897")
    assert len(sent) == 1 and sent[0]["body"] == "This one", sent
    url = sent[0]["media_urls"][0]
    assert url.startswith(server.url + "/media/") and len(url.rsplit("/", 1)[1]) == 43, url
    # Flowroute (the simulator) fetched exactly the picture, at the link it was given.
    fetched = sent[0]["media_fetched"]
    assert fetched == [{"url": url, "content_type": "image/png", "size": len(shade),
                        "sha256": hashlib.sha256(shade).hexdigest()}], fetched
    # The link needs no session; a link one character off is not found.
    with urllib.request.urlopen(url, timeout=5) as res:
        assert res.read() == shade
    wrong = url[:-1] + ("A" if url[-1] != "A" else "B")
    try:
        urllib.request.urlopen(wrong, timeout=5)
        raise AssertionError("a wrong link served something")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    expect(mine.locator(".state")).to_have_text("Delivered", timeout=10000)
    expect(mine.locator("img.thumb")).to_have_js_property("naturalWidth", 160)
    shot(page, "inbox-picture-reply")
    page.context.close()


def test_the_inbox_fits_a_phone_and_works_by_keyboard(browser, server, globex):
    server.user("phone@globex.test", "On the road", "extension", "globex", "201")
    assert server.api("PATCH", f"/api/v1/tenants/globex/numbers/+{GLOBEX_NUMBER}", {"senders": ["201"]})[0] == 200
    inbound(globex, "12065550898", "Running 10 minutes late, sorry!")
    page = new_page(browser, viewport={"width": 360, "height": 740})
    sign_in(page, server, "phone@globex.test")
    for path in ("/portal/inbox", "/portal/inbox?show=all", "/portal/inbox/+12065550898"):
        page.goto(server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width} px wide at 360"
    shot(page, "inbox-phone")
    # By keyboard alone: every control shows its focus, the conversation is taken with Enter, and a
    # reply is typed and sent.
    seen = tab_through(page)
    for control in ("BUTTON#Take it", "BUTTON#Mark done", "TEXTAREA#body", "INPUT#attachment", "BUTTON#Send"):
        assert control in seen, (control, list(seen))
    page.locator("button:text-is('Take it')").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".handling .holder")).to_have_text("You have this conversation.")
    page.locator("#body").focus()
    page.keyboard.type("No problem, see you soon")
    page.locator("button:text-is('Send')").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_have_text("Your reply is queued; its state shows below.")
    expect(page.locator("ol.thread li.out .body")).to_have_text("No problem, see you soon")
    page.context.close()
