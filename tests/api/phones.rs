//! SIP MESSAGE delivery to extensions' phones, against a real PBX: Kamailio (Debian's packages),
//! whose msilo module keeps texts for phones that are not registered, and SIPp (`sip-tester`) as
//! the phone. Without them the tests say so and check nothing, unless `SB_TEST_REQUIRE_SIP` is
//! set (`.ci/run` installs both and sets it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_test_macros::suite_test;
use tokio::process::{Child, Command};

use crate::support::TestApp;
use crate::wired::{Wired, wire};

/// Whether Kamailio and SIPp are installed; when not, a note (or a failure, where they must be).
fn sip_tools() -> bool {
    let found = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let tls = Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so").is_file();
    if tls && found("sipp") {
        return true;
    }
    let missing = "SB_TEST_REQUIRE_SIP is set without kamailio, its TLS module and sipp";
    assert!(std::env::var_os("SB_TEST_REQUIRE_SIP").is_none(), "{missing}");
    eprintln!(
        "note: SIP delivery was not covered: install kamailio, kamailio-tls-modules and sip-tester (.ci/run does)"
    );
    false
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sip").join(name)
}

/// A port free on 127.0.0.1 for both TCP and UDP, as far as can be told now.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Makes, in `dir`, a private CA (`ca.crt`) and a certificate for the address 127.0.0.1 it signed
/// (`server.crt`, `server.key`).
pub fn private_ca(dir: &Path) {
    let openssl = |args: &[&str]| {
        let made =
            std::process::Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::null()).status().unwrap();
        assert!(made.success(), "openssl {args:?}");
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[&["req", "-x509"], &ec[..], &["-days", "2", "-subj", "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.crt"]]
            .concat(),
    );
    openssl(&[&["req"], &ec[..], &["-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"]].concat());
    let ext = "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    std::fs::write(dir.join("server.ext"), ext).unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
}

/// A Kamailio of the test's own, on ports of its own; stopped when dropped.
struct Pbx {
    child: Child,
    port: u16,
    /// Its TLS port, with a certificate for 127.0.0.1 only, and the CA certificate that signed it (PEM).
    tls: Option<(u16, PathBuf)>,
    _dir: tempfile::TempDir,
}

impl Pbx {
    /// Starts it on UDP and TCP, asking the gateway for `password`.
    async fn start(password: &str) -> Self {
        Self::start_with(password, false).await
    }

    /// Starts it on TLS too, with a certificate for the address 127.0.0.1 a private CA signed, and
    /// challenging as a registrar does (`401`).
    async fn start_tls(password: &str) -> Self {
        Self::start_with(password, true).await
    }

    async fn start_with(password: &str, tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let tls_port = free_port();
        let (ca, cert, key) = (dir.path().join("ca.crt"), dir.path().join("server.crt"), dir.path().join("server.key"));
        if tls {
            private_ca(dir.path());
            let tls_cfg = format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
                 certificate = {}\nprivate_key = {}\n",
                cert.display(),
                key.display()
            );
            std::fs::write(dir.path().join("tls.cfg"), tls_cfg).unwrap();
        }
        std::fs::create_dir(dir.path().join("db")).unwrap();
        for table in ["silo", "version"] {
            std::fs::copy(fixture(table), dir.path().join("db").join(table)).unwrap();
        }
        let config = std::fs::read_to_string(fixture("kamailio.cfg"))
            .unwrap()
            .replace("@TLS_PORT@", &tls_port.to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@PASSWORD@", password);
        let cfg = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
        let mut kamailio = Command::new("kamailio");
        if tls {
            kamailio.args(["-A", "WITH_TLS", "-A", "WWW_AUTH"]);
        }
        let child = kamailio
            .args(["-DD", "-E", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("kamailio starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let last = if tls { tls_port } else { port };
        while tokio::net::TcpStream::connect(("127.0.0.1", last)).await.is_err() {
            let log = std::fs::read_to_string(dir.path().join("kamailio.log")).unwrap_or_default();
            assert!(tokio::time::Instant::now() < deadline, "kamailio did not listen on {port}: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port, tls: tls.then_some((tls_port, ca)), _dir: dir }
    }

    /// What it logged of each MESSAGE it took: `… over <protocol>, <length> bytes`.
    fn messages_logged(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self._dir.path().join("kamailio.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("MESSAGE from sip:+12065550123")).map(str::to_owned).collect()
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        // Its children go with it (SIGTERM to the main process).
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// Phone 101: one SIPp listens for a MESSAGE and answers `200`; another registers it at the PBX.
struct Phone {
    child: Child,
    trace: PathBuf,
    _dir: tempfile::TempDir,
}

fn sipp(pbx: &Pbx, scenario: &str, dir: &Path, port: u16) -> Command {
    let mut sipp = Command::new("sipp");
    sipp.arg(format!("127.0.0.1:{}", pbx.port))
        .arg("-sf")
        .arg(fixture(scenario))
        .args(["-m", "1", "-i", "127.0.0.1", "-p", &port.to_string(), "-timeout", "20", "-timeout_error"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    sipp
}

impl Phone {
    /// Starts the phone and registers it.
    async fn start(pbx: &Pbx) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("phone.msg");
        let port = free_port();
        let child = sipp(pbx, "phone.xml", dir.path(), port)
            .args(["-trace_msg", "-message_file"])
            .arg(&trace)
            .spawn()
            .expect("sipp starts");
        let registered = sipp(pbx, "register.xml", dir.path(), free_port())
            .args(["-key", "phone_port", &port.to_string()])
            .status()
            .await
            .unwrap();
        assert!(registered.success(), "the phone registers: {registered}");
        Self { child, trace, _dir: dir }
    }

    fn seen(&self) -> String {
        std::fs::read_to_string(&self.trace).unwrap_or_default()
    }

    /// Waits for the phone to take its text; answers what it received.
    async fn finished(mut self) -> String {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        let seen = self.seen();
        assert!(status.success(), "the phone's scenario failed ({status}): {seen}");
        seen
    }
}

/// An inbound SMS from the fixtures' customer to the wired number.
fn sms(id: &str, body: &str) -> Vec<u8> {
    json!({"data": {"type": "message", "id": id, "attributes": {"to": "12025550100", "from": "12065550123",
            "body": body, "is_mms": false, "direction": "inbound"}}})
    .to_string()
    .into_bytes()
}

/// Posts a text and answers its id.
async fn text(app: &TestApp, w: &Wired, id: &str, body: &str) -> String {
    app.flowroute("acmein", &sms(id, body)).await.expect(StatusCode::OK);
    let list = app.get(&format!("{}/messages?direction=inbound", w.base), &w.token).await;
    let items = list.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    let m = items.iter().find(|m| m["body"] == body).unwrap_or_else(|| panic!("{body} is listed: {items:?}"));
    m["id"].as_str().unwrap().to_owned()
}

/// Waits for the text's first `message.delivery` event.
async fn delivery(app: &TestApp, w: &Wired, message: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let timeline = app.get(&format!("{}/messages/{message}/timeline", w.base), &w.token).await;
        let timeline = timeline.expect(StatusCode::OK).clone();
        let found = timeline["events"].as_array().unwrap().iter().find(|e| e["type"] == "message.delivery").cloned();
        if let Some(e) = found {
            return e["event"]["data"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery attempt: {timeline}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A text reaches phone 101 through Kamailio: kept by the PBX while the phone is away (`202`) and
/// handed to it when it registers; sent straight to it while it is registered (`200`); the PBX's
/// digest challenge answered with the tenant's credentials, and a wrong password fails at once
/// with the reason recorded. The password is never shown.
#[suite_test]
async fn a_text_reaches_a_sip_phone_through_kamailio(app: TestApp) {
    if !sip_tools() {
        return;
    }
    let pbx = Pbx::start("gw-secret").await;
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let sip = json!({"server": format!("127.0.0.1:{}", pbx.port), "domain": "pbx.test", "transport": "tcp",
                     "username": "gateway", "password": "gw-secret"});
    let set = app.patch(&w.base, &w.token, json!({"sip": sip})).await;
    let tenant = set.expect(StatusCode::OK).clone();
    assert_eq!(tenant["sip"]["has_password"], true, "{tenant}");
    assert_eq!(tenant["sip"]["transport"], "tcp");
    assert!(!tenant.to_string().contains("gw-secret"), "the password is not shown: {tenant}");
    let ext = app.patch(&format!("{}/extensions/101", w.base), &w.token, json!({"sip_user": "101"})).await;
    assert_eq!(ext.expect(StatusCode::OK)["sip_user"], "101");

    // Away: Kamailio keeps it (202), once; extension 102, without a SIP user, gets no SIP delivery.
    let first = text(&app, &w, "mdr2-sip-away", "Is the 3pm still on?").await;
    let d = delivery(&app, &w, &first).await;
    assert_eq!(d["outcome"], "accepted", "{d}");
    assert_eq!(d["status"], 202);
    assert_eq!((d["extension"].as_str(), d["address"].as_str()), (Some("101"), Some("sip:101@pbx.test")));
    assert_eq!((d["channel"].as_str(), d["attempt"].as_i64()), (Some("sip"), Some(1)));
    // The phone registers and is handed the text, from the customer's number.
    let seen = Phone::start(&pbx).await.finished().await;
    assert!(seen.contains("Is the 3pm still on?"), "{seen}");
    assert!(seen.contains("From: <sip:+12065550123@pbx.test>"), "{seen}");

    // Registered: straight to the phone, which answers 200.
    let phone = Phone::start(&pbx).await;
    let second = text(&app, &w, "mdr2-sip-here", "Running 10 minutes late").await;
    let d = delivery(&app, &w, &second).await;
    assert_eq!((d["outcome"].as_str(), d["status"].as_i64()), (Some("delivered"), Some(200)), "{d}");
    let seen = phone.finished().await;
    assert!(seen.contains("Running 10 minutes late"), "{seen}");
    assert!(seen.contains("Content-Type: text/plain;charset=UTF-8"), "{seen}");

    // Over UDP from here: a short text goes as a datagram; one past 1,300 bytes goes over TCP.
    let udp = json!({"sip": {"server": format!("127.0.0.1:{}", pbx.port), "domain": "pbx.test", "transport": "udp",
                             "username": "gateway"}});
    let kept = app.patch(&w.base, &w.token, udp).await.expect(StatusCode::OK).clone();
    assert_eq!(kept["sip"]["has_password"], true, "the password stays: {kept}");
    // A picture arrives as a link the phone can open, without signing in.
    let phone = Phone::start(&pbx).await;
    let host = crate::media::media_host().await;
    app.flowroute("acmein", &crate::media::mms("mdr2-sip-mms", &host, &[("img.jpg", "image/jpeg")]))
        .await
        .expect(StatusCode::OK);
    let seen = phone.finished().await;
    let link = seen
        .split_whitespace()
        .find(|w| w.starts_with("https://sms.example.net/media/"))
        .unwrap_or_else(|| panic!("a link to the picture: {seen}"));
    let path = link.trim_start_matches("https://sms.example.net");
    let res = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{link}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), crate::media::JPEG);
    let long = "Here is the whole list of what to bring. ".repeat(30);
    let third = text(&app, &w, "mdr2-sip-long", long.trim()).await;
    assert_eq!(delivery(&app, &w, &third).await["outcome"], "accepted");
    let logged = pbx.messages_logged();
    let over = |proto: &str| logged.iter().filter(|l| l.contains(&format!(" over {proto},"))).count();
    // Each text twice, challenged then answered: over TCP the first two and the long one; over UDP
    // the picture's link, and msilo handing the kept text on.
    assert_eq!((over("tcp"), over("udp")), (6, 3), "{logged:#?}");

    // A wrong password: challenged again, failed for good with the reason, not tried again.
    let wrong = json!({"sip": {"server": format!("127.0.0.1:{}", pbx.port), "domain": "pbx.test",
                               "transport": "tcp", "username": "gateway", "password": "not-the-password"}});
    app.patch(&w.base, &w.token, wrong).await.expect(StatusCode::OK);
    let fourth = text(&app, &w, "mdr2-sip-wrong", "Can you call me back?").await;
    let d = delivery(&app, &w, &fourth).await;
    assert_eq!((d["outcome"].as_str(), d["status"].as_i64()), (Some("failed"), Some(407)), "{d}");
    let reason = d["reason"].as_str().unwrap();
    assert!(reason.contains("refused the SIP credentials"), "{reason}");
    let timeline = app.get(&format!("{}/messages/{fourth}/timeline", w.base), &w.token).await;
    let timeline = timeline.expect(StatusCode::OK).clone();
    let sip_jobs: Vec<&Value> =
        timeline["jobs"].as_array().unwrap().iter().filter(|j| j["kind"] == "sip_delivery").collect();
    assert_eq!(sip_jobs.len(), 1, "one SIP delivery, for 101 only: {timeline}");
    assert_eq!((sip_jobs[0]["state"].as_str(), sip_jobs[0]["attempts"].as_i64()), (Some("dead"), Some(1)));
    let shown = app.get(&w.base, &w.token).await.expect(StatusCode::OK).to_string();
    assert!(!shown.contains("not-the-password") && !shown.contains("gw-secret"), "{shown}");
    drop(pbx);
}

/// Over TLS (the default transport) to a PBX whose certificate a private CA signed, trusted through
/// `sip_ca_file`; a name the certificate does not carry is refused and tried again later.
#[suite_test]
async fn texts_go_over_tls_to_a_pbx_whose_certificate_is_trusted(mut app: TestApp) {
    if !sip_tools() {
        return;
    }
    let pbx = Pbx::start_tls("gw-secret").await;
    let (tls_port, ca) = pbx.tls.clone().unwrap();
    let ca = ca.display().to_string();
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let env = [("SWITCHBOARD_SIP_CA_FILE", ca.as_str())];
    let (_dir, _log, server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    let sip = |host: &str| {
        json!({"sip": {"server": format!("{host}:{tls_port}"), "domain": "pbx.test", "username": "gateway",
                       "password": "gw-secret"}})
    };
    // `localhost` is not a name the certificate carries: refused, and tried again later.
    let set = app.patch(&w.base, &w.token, sip("localhost")).await;
    assert_eq!(set.expect(StatusCode::OK)["sip"]["transport"], "tls");
    app.patch(&format!("{}/extensions/101", w.base), &w.token, json!({"sip_user": "101"})).await.expect(StatusCode::OK);
    let first = text(&app, &w, "mdr2-sip-tls-name", "Not to that name").await;
    let d = delivery(&app, &w, &first).await;
    assert_eq!(d["outcome"], "retrying", "{d}");
    let reason = d["reason"].as_str().unwrap().to_lowercase();
    assert!(reason.contains("certificate"), "{reason}");

    // The address it does carry: the next text goes, and the refused one with its next try.
    app.patch(&w.base, &w.token, sip("127.0.0.1")).await.expect(StatusCode::OK);
    let second = text(&app, &w, "mdr2-sip-tls", "Over TLS").await;
    let d = delivery(&app, &w, &second).await;
    assert_eq!((d["outcome"].as_str(), d["status"].as_i64()), (Some("accepted"), Some(202)), "{d}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let timeline = app.get(&format!("{}/messages/{first}/timeline", w.base), &w.token).await;
        let timeline = timeline.expect(StatusCode::OK).clone();
        let outcomes: Vec<&str> = timeline["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "message.delivery")
            .map(|e| e["event"]["data"]["outcome"].as_str().unwrap())
            .collect();
        if outcomes.last() == Some(&"accepted") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refused text never went: {outcomes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((server, pbx));
}

/// SIP settings and SIP users are checked, each bad field named; a username needs its password.
#[suite_test]
async fn sip_settings_are_checked(app: TestApp) {
    let token = app.tenant("acme").await;
    let base = "/api/v1/tenants/acme";
    let bad = json!({"sip": {"server": "pbx..example", "domain": "bad domain", "transport": "sctp", "username": "gw"}});
    let refused = app.patch(base, &token, bad).await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.fields(), ["sip.server", "sip.domain", "sip.transport", "sip.password"]);
    let no_user = json!({"sip": {"server": "pbx.example.com", "password": "secret"}});
    let refused = app.patch(base, &token, no_user).await;
    assert_eq!(refused.fields(), ["sip.username"]);
    // Set, then the password kept when only the server changes; `null` removes it all.
    let set = json!({"sip": {"server": "PBX.example.com:5080", "username": "gw", "password": "secret"}});
    let t = app.patch(base, &token, set).await.expect(StatusCode::OK).clone();
    assert_eq!(
        t["sip"],
        json!({"server": "pbx.example.com:5080", "domain": null, "transport": "tls",
                                 "username": "gw", "has_password": true})
    );
    let moved = json!({"sip": {"server": "pbx2.example.com", "username": "gw"}});
    let t = app.patch(base, &token, moved).await.expect(StatusCode::OK).clone();
    assert_eq!(t["sip"]["has_password"], true, "{t}");
    let t = app.patch(base, &token, json!({"sip": null})).await.expect(StatusCode::OK).clone();
    assert_eq!(t["sip"], Value::Null);
    app.post(&format!("{base}/extensions"), &token, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    let refused = app.patch(&format!("{base}/extensions/101"), &token, json!({"sip_user": "101@pbx"})).await;
    assert_eq!(refused.fields(), ["sip_user"]);
    let e = app.patch(&format!("{base}/extensions/101"), &token, json!({"sip_user": "desk.101"})).await;
    assert_eq!(e.expect(StatusCode::OK)["sip_user"], "desk.101");
    let e = app.patch(&format!("{base}/extensions/101"), &token, json!({"sip_user": null})).await;
    assert_eq!(e.expect(StatusCode::OK)["sip_user"], Value::Null);
}

/// A SIP server outside the networks Switchboard may reach (here the cloud metadata address) is
/// never contacted: the delivery says why and waits for its next try.
#[suite_test]
async fn sip_delivery_never_reaches_a_forbidden_address(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let sip = json!({"sip": {"server": "169.254.169.254:5060", "transport": "tcp"}});
    app.patch(&w.base, &w.token, sip).await.expect(StatusCode::OK);
    app.patch(&format!("{}/extensions/101", w.base), &w.token, json!({"sip_user": "101"})).await.expect(StatusCode::OK);
    let message = text(&app, &w, "mdr2-sip-metadata", "Where does this go?").await;
    let d = delivery(&app, &w, &message).await;
    assert_eq!(d["outcome"], "retrying", "{d}");
    let reason = d["reason"].as_str().unwrap();
    assert!(reason.contains("169.254.169.254 is not an address Switchboard may reach"), "{reason}");
}
