//! Email when nobody answers, against a real SMTP server: aiosmtpd (from PyPI, pinned in
//! `tests/email/requirements.txt`) requiring STARTTLS with a certificate a private CA signed.
//! `SB_TEST_AIOSMTPD` names the Python that has it (`.ci/run` makes the venv and sets it, with
//! `SB_TEST_REQUIRE_SMTP`); without it the tests say so and check nothing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_test_macros::suite_test;
use tokio::process::{Child, Command};

use crate::phones::{free_port, private_ca};
use crate::support::TestApp;

const INGRESS_TOKEN: &str = "email-ingress-token-of-the-tests";

/// The Python with aiosmtpd, if any; when none, a note (or a failure, where it must be there).
fn aiosmtpd() -> Option<String> {
    if let Some(python) = std::env::var("SB_TEST_AIOSMTPD").ok().filter(|p| Path::new(p).is_file()) {
        return Some(python);
    }
    assert!(std::env::var_os("SB_TEST_REQUIRE_SMTP").is_none(), "SB_TEST_REQUIRE_SMTP is set without SB_TEST_AIOSMTPD");
    eprintln!("note: email was not covered: set SB_TEST_AIOSMTPD to a Python with aiosmtpd (.ci/run does)");
    None
}

/// An SMTP server requiring STARTTLS that keeps what it receives in a Maildir; stopped when dropped.
struct Smtp {
    _child: Child,
    port: u16,
    ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Smtp {
    async fn start(python: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        private_ca(dir.path());
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .arg("--tlscert")
            .arg(dir.path().join("server.crt"))
            .arg("--tlskey")
            .arg(dir.path().join("server.key"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ca = dir.path().join("ca.crt");
        Self { _child: child, port, ca, dir }
    }

    /// The emails received so far, raw.
    fn received(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let mut mails: Vec<String> = std::fs::read_dir(new)
            .map(|d| d.filter_map(Result::ok).filter_map(|f| std::fs::read_to_string(f.path()).ok()).collect())
            .unwrap_or_default();
        mails.sort();
        mails
    }
}

/// The value of a header of a raw email (unfolded).
fn header(mail: &str, name: &str) -> String {
    let unfolded = mail.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
    let prefix = format!("{}:", name.to_lowercase());
    unfolded
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_owned())
        .unwrap_or_default()
}

/// The text's `message.delivery` events, in order.
async fn attempts(app: &TestApp, base: &str, token: &str, message: &str) -> Vec<Value> {
    let timeline = app.get(&format!("{base}/messages/{message}/timeline"), token).await;
    let timeline = timeline.expect(StatusCode::OK).clone();
    timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.delivery")
        .map(|e| e["event"]["data"].clone())
        .collect()
}

/// A text nobody read in five minutes is emailed (STARTTLS, a Message-ID, a signed Reply-To) to
/// extension 101, not to 102 whose client marked it read; the reply, posted raw to the email
/// ingress, reaches the customer through Flowroute once, without what it quotes. Forged and
/// stranger replies are refused and send nothing.
#[suite_test]
async fn an_unread_text_is_emailed_and_the_reply_reaches_the_customer(mut app: TestApp) {
    let Some(python) = aiosmtpd() else { return };
    let smtp = Smtp::start(&python).await;
    let port = smtp.port.to_string();
    let ca = smtp.ca.display().to_string();
    let env = [
        ("SWITCHBOARD_SMTP_HOST", "127.0.0.1"),
        ("SWITCHBOARD_SMTP_PORT", port.as_str()),
        ("SWITCHBOARD_SMTP_CA_FILE", ca.as_str()),
        ("SWITCHBOARD_EMAIL_FROM", "texts@sms.example.net"),
        ("SWITCHBOARD_EMAIL_REPLY_DOMAIN", "reply.example.net"),
        ("SWITCHBOARD_EMAIL_INGRESS_TOKEN", INGRESS_TOKEN),
    ];
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    for (ext, email) in [("101", "Front.Desk@Example.com"), ("102", "second@example.com")] {
        let set = app.patch(&format!("{}/extensions/{ext}", w.base), &w.token, json!({"email": email})).await;
        let e = set.expect(StatusCode::OK).clone();
        assert_eq!(
            (e["email"].as_str(), e["email_delay_minutes"].as_i64()),
            (Some(email.to_lowercase().as_str()), Some(5))
        );
    }
    let body = json!({"data": {"type": "message", "id": "mdr2-mail-1", "attributes": {"to": "12025550100",
                      "from": "12065550123", "body": "Is the 3pm still on?", "is_mms": false, "direction": "inbound"}}});
    app.flowroute("acmein", body.to_string().as_bytes()).await.expect(StatusCode::OK);
    let list = app.get(&format!("{}/messages?direction=inbound", w.base), &w.token).await;
    let message = list.expect(StatusCode::OK)["items"][0]["id"].as_str().unwrap().to_owned();
    // Due five minutes on, one per extension.
    let timeline = app.get(&format!("{}/messages/{message}/timeline", w.base), &w.token).await;
    let timeline = timeline.expect(StatusCode::OK).clone();
    let emails: Vec<&Value> =
        timeline["jobs"].as_array().unwrap().iter().filter(|j| j["kind"] == "email_fallback").collect();
    assert_eq!(emails.len(), 2, "{timeline}");
    for job in &emails {
        let due: chrono::DateTime<chrono::Utc> = job["next_attempt_at"].as_str().unwrap().parse().unwrap();
        assert!(due > chrono::Utc::now() + chrono::Duration::minutes(4), "{job}");
    }
    // 102's client reads the conversation; then the five minutes pass.
    let ext102 = app.token(switchboard_http::Role::Extension, Some("acme"), Some("102"));
    app.post("/api/v1/conversations/+12065550123/read", &ext102, json!({})).await;
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    crate::support::execute(
        &app,
        "UPDATE job SET next_attempt_at = $1 WHERE kind = 'email_fallback'",
        vec![past.into()],
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mail = loop {
        if let Some(mail) = smtp.received().pop() {
            break mail;
        }
        assert!(tokio::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(header(&mail, "To"), "front.desk@example.com", "{mail}");
    assert!(header(&mail, "From").contains("texts@sms.example.net"), "{mail}");
    assert!(header(&mail, "Subject").contains("+12065550123"), "{mail}");
    assert!(header(&mail, "Message-ID").ends_with(".101@reply.example.net>"), "{mail}");
    assert!(mail.contains("Is the 3pm still on?"), "{mail}");
    let reply_to = header(&mail, "Reply-To");
    let address = reply_to.trim_matches(['<', '>']).to_owned();
    assert!(address.starts_with("reply+") && address.ends_with("@reply.example.net"), "{reply_to}");
    // 102 read it: skipped, and said so; 101 emailed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = attempts(&app, &w.base, &w.token, &message).await;
    let by_ext = |ext: &str| seen.iter().find(|a| a["extension"] == ext).cloned().unwrap_or(Value::Null);
    assert_eq!(
        (by_ext("101")["channel"].as_str(), by_ext("101")["outcome"].as_str()),
        (Some("email"), Some("delivered"))
    );
    assert_eq!(by_ext("102")["outcome"], "skipped", "{seen:?}");
    assert_eq!(smtp.received().len(), 1, "one email only");

    // The reply, as the mail provider posts it.
    let reply = |from: &str, to: &str, id: &str| {
        format!(
            "From: Front Desk <{from}>\r\nTo: {to}\r\nSubject: Re: Text from +12065550123\r\nMessage-ID: <{id}@example.com>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nYes, 3pm works.\r\n\r\nOn Sat, Dec 5, 2026 at 10:02 AM \
             Switchboard <texts@sms.example.net> wrote:\r\n> ## Write your reply above this line ##\r\n> Is the 3pm still on?\r\n"
        )
    };
    let post = |raw: String, token: &str| {
        let url = format!("{}/email/inbound?token={token}", app.base);
        let client = app.client.clone();
        async move {
            let res = client.post(url).header("content-type", "message/rfc822").body(raw).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, queued) = post(reply("front.desk@example.com", &address, "r1"), INGRESS_TOKEN).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let (again, second) = post(reply("FRONT.DESK@example.com", &address, "r1"), INGRESS_TOKEN).await;
    assert_eq!((again, &second["id"]), (StatusCode::ACCEPTED, &queued["id"]), "the same reply is one text");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sim.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the reply never reached Flowroute");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = w.sim.accepted();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].from.as_str(), sent[0].to.as_str()), ("12025550100", "12065550123"));
    assert_eq!(sent[0].body.as_deref(), Some("Yes, 3pm works."));

    // Refused, each in words, and nothing sent: a forged token, a stranger, a wrong ingress token.
    let mut forged = address.clone();
    let flip = forged.find('+').unwrap() + 1;
    let c = if &forged[flip..=flip] == "0" { "1" } else { "0" };
    forged.replace_range(flip..=flip, c);
    let (status, problem) = post(reply("front.desk@example.com", &forged, "r2"), INGRESS_TOKEN).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("reply_unknown")), "{problem}");
    let (status, problem) = post(reply("someone@elsewhere.example", &address, "r3"), INGRESS_TOKEN).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("reply_sender_unknown")), "{problem}");
    let (status, _) = post(reply("front.desk@example.com", &address, "r4"), "not-the-ingress-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, problem) = post("this is not an email".into(), INGRESS_TOKEN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sim.accepted().len(), 1, "nothing more was sent");
    drop(server);
}

/// Email settings of an extension are checked, each bad field named.
#[suite_test]
async fn extension_email_settings_are_checked(app: TestApp) {
    let token = app.tenant("acme").await;
    let base = "/api/v1/tenants/acme/extensions";
    let bad = json!({"extension": "101", "name": "Desk", "email": "not an address", "email_delay_minutes": 0});
    let refused = app.post(base, &token, bad).await;
    assert_eq!(refused.fields(), ["email", "email_delay_minutes"]);
    let made = app.post(base, &token, json!({"extension": "101", "name": "Desk", "email": "desk@example.com"})).await;
    assert_eq!(made.expect(StatusCode::CREATED)["email_delay_minutes"], 5);
    let changed = app.patch(&format!("{base}/101"), &token, json!({"email_delay_minutes": 30})).await;
    let e = changed.expect(StatusCode::OK).clone();
    assert_eq!((e["email"].as_str(), e["email_delay_minutes"].as_i64()), (Some("desk@example.com"), Some(30)));
    let refused = app.patch(&format!("{base}/101"), &token, json!({"email_delay_minutes": 1441})).await;
    assert_eq!(refused.fields(), ["email_delay_minutes"]);
    let cleared = app.patch(&format!("{base}/101"), &token, json!({"email": null})).await;
    assert_eq!(cleared.expect(StatusCode::OK)["email"], Value::Null);
}
