"""PBX deliveries as Globex's admin: a PBX that refuses every post shows on the dashboard, the
given-up delivery with each attempt's answer on its screen and on the text's timeline, and once
the PBX is back it is played again and reaches it once, with the same webhook-id."""

import subprocess
import time

from playwright.sync_api import expect

from conftest import GLOBEX_NUMBER, SIM_BIN, shot


def wait(what, check, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s")


def test_a_dead_delivery_is_seen_attempt_by_attempt_and_played_again(globex_admin, browser, server, globex, pbx):
    t = "/api/v1/tenants/globex"
    status, _ = server.api("PATCH", t, {"webhook_url": pbx.url})
    assert status == 200
    try:
        subprocess.run(
            [SIM_BIN, "inbound", "--url", globex["webhook_url"], "--from", "12065550777", "--to", GLOBEX_NUMBER,
             "--body", "Is anyone there?"],
            check=True,
            timeout=30,
        )

        def dead():
            status, page = server.api("GET", t + "/webhook-deliveries?state=dead")
            return page["items"] if status == 200 and page["items"] else None

        dead_items = wait("the delivery was given up", dead)
        assert len(dead_items) == 1 and len(pbx.refused) == 3, (dead_items, pbx.refused)
        webhook_id = pbx.refused[0][0]

        page = globex_admin
        # The dashboard says the PBX is failing, in words, and what it last answered.
        page.goto(server.url + "/portal/t/globex/")
        health = page.locator("section[aria-labelledby=health]")
        expect(health).to_contain_text("Failing: 3 failed deliveries in a row")
        expect(health).to_contain_text("it answered 503")
        shot(page, "dashboard-pbx-failing")

        # The screen of deliveries: the given-up one, each attempt's answer.
        page.click("text=See the deliveries that failed")
        row = page.locator("tbody tr", has_text="Text received")
        expect(row).to_have_count(1)
        row.locator("summary").click()
        attempts = row.locator("ol.attempts li").all_inner_texts()
        assert len(attempts) == 3 and all("answered 503" in a for a in attempts), attempts
        assert "the last; given up" in attempts[2]
        shot(page, "deliveries")

        # The text's own page: its events and the work done for it, attempt by attempt.
        row.locator("text=Open the text").click()
        expect(page.locator("h1")).to_have_text("Message from +12065550777")
        events = page.locator("table", has=page.locator("caption", has_text="Events of this text"))
        expect(events.locator("tbody tr")).to_have_count(2)
        expect(events).to_contain_text("routed to 201")
        expect(events).to_contain_text("Work given up")
        job = page.locator("ul.jobs > li").first
        expect(job).to_contain_text("Post to the PBX webhook (Text received): given up at")
        expect(job.locator("ol.attempts li")).to_have_count(3)
        shot(page, "message-timeline")

        # Another tenant's admin can neither see it nor play it again.
        acme = browser.new_context(bypass_csp=True).new_page()
        from conftest import sign_in

        sign_in(acme, server, "admin@acme.test")
        acme.goto(server.url + "/portal/t/acme/extensions")
        csrf = acme.get_attribute("input[name=csrf]", "value")
        for path in (f"/portal/t/globex/deliveries/{dead_items[0]['id']}/replay",
                     f"/portal/t/acme/deliveries/{dead_items[0]['id']}/replay",
                     "/portal/t/globex/deliveries/replay-dead"):
            res = acme.request.post(server.url + path, form={"csrf": csrf}, headers={"origin": server.url},
                                    max_redirects=0)
            assert res.status == 404, f"POST {path} answered {res.status}"
        acme.context.close()
        assert wait("still dead", dead), "nothing was played by the other tenant"

        # The PBX is back: played again, it arrives once, with the same webhook-id.
        pbx.status = 200
        page.goto(server.url + "/portal/t/globex/deliveries")
        page.click("button:text-is('Play again')")
        expect(page.locator(".notice")).to_have_text(
            "Played again: it is queued behind the conversation's current deliveries.")
        expect(page.locator("main")).to_contain_text("No delivery was given up.")
        wait("the replay reached the PBX", lambda: pbx.accepted)
        time.sleep(1.5)
        assert [a[0] for a in pbx.accepted] == [webhook_id], pbx.accepted
        assert pbx.accepted[0][1]["data"]["body"] == "Is anyone there?"
        page.goto(server.url + "/portal/t/globex/")
        expect(page.locator("section[aria-labelledby=health]")).to_contain_text("Answering.")
    finally:
        server.api("PATCH", t, {"webhook_url": None})
