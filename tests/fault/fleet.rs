//! Three instances on one PostgreSQL behind nginx (Debian's package), as an operator runs them:
//! under inbound and outbound load, each is restarted in turn (a rolling upgrade, SIGTERM with a
//! drain) and one is killed with SIGKILL. Nothing acknowledged is lost, no text reaches the PBX
//! under two event ids, no send is made twice, Flowroute's pace holds across the three, every
//! callback Flowroute would retry is finally acknowledged, and a change or a text on one instance
//! is seen on another within a second.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::load::{self, delivered_once};
use crate::server::{Server, take_over_with};
use crate::support::TestApp;

const INBOUND: usize = 600;
const OUTBOUND: usize = 300;
const PEOPLE: usize = 60;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx in front of the instances, in a directory of its own; stopped when dropped.
struct Nginx {
    child: Child,
    base: String,
}

impl Nginx {
    fn start(dir: &Path, port: u16, upstreams: &[u16]) -> Self {
        let servers: String =
            upstreams.iter().map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n")).collect();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log {dir}/access.log;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
               upstream switchboard {{\n{servers}  }}\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location / {{\n      proxy_pass http://switchboard;\n      proxy_http_version 1.1;\n\
                   proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n\
                   proxy_next_upstream error timeout http_502 http_503;\n      proxy_connect_timeout 1s;\n\
                   proxy_buffering off;\n      proxy_read_timeout 60s;\n    }}\n  }}\n}}\n",
            dir = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (Debian's package; .ci/run installs it)");
        Self { child, base: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Nginx {
    /// Stops nginx with SIGTERM, so that its master takes its workers with it (SIGKILL to the
    /// master leaves them running); SIGKILL only if it has not stopped within five seconds.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether nginx is installed.
pub fn available() -> bool {
    Command::new("nginx").arg("-v").stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[suite_test(crate::On::Postgres)]
async fn three_instances_behind_nginx_lose_and_repeat_nothing(mut app: TestApp) {
    assert!(available(), "nginx is not installed (apt-get install nginx; .ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let (lb_port, ports) = (free_port(), [free_port(), free_port(), free_port()]);
    let lb = format!("http://127.0.0.1:{lb_port}");
    // Each instance says it is at the load balancer, drains for a second on SIGTERM, and waits
    // five for its jobs in flight.
    let env = [
        ("SWITCHBOARD_PUBLIC_URL", lb.as_str()),
        ("SWITCHBOARD_SHUTDOWN_DRAIN_SECS", "1"),
        ("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "5"),
    ];
    // The simulator takes every send, so the pace measured is Switchboard's own.
    let sim = flowroute_sim::SimConfig { receipts: false, rate_limits: false, ..Default::default() };
    let (_wired_dir, _log, first, w) = take_over_with(&mut app, &env, sim).await;
    drop(first);
    let log = |i: usize| dir.path().join(format!("instance-{i}.log"));
    let mut instances = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        instances.push(Some(Server::restart(&app, &log(i), &env, &format!("127.0.0.1:{port}")).await));
    }
    let nginx = Nginx::start(dir.path(), lb_port, &ports);
    let ready = tokio::time::Instant::now() + Duration::from_secs(10);
    while load::client().get(format!("{}/readyz", nginx.base)).send().await.is_err() {
        assert!(tokio::time::Instant::now() < ready, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let direct = |i: usize| format!("http://127.0.0.1:{}", ports[i]);

    // A configuration change made through one instance is used by the two others within a second.
    // Texts are posted to both, one to each every 25 ms for 1.2 s from the change, without waiting
    // for their deliveries (whose time is not the change's): every text posted a second or more
    // after the change must go where it says.
    let url = format!("{}{}/numbers/+12025550100", direct(0), w.base);
    let changed = app.client.patch(&url).bearer_auth(&w.token).json(&json!({"destinations": ["200"]})).send().await;
    assert_eq!(changed.unwrap().status(), StatusCode::OK);
    let at = tokio::time::Instant::now();
    let mut posted = Vec::new();
    for n in 0.. {
        let when = at.elapsed();
        if when > Duration::from_millis(1200) {
            break;
        }
        for i in [1, 2] {
            let id = format!("{i}-{n}");
            let body =
                format!(r#"{{"to":"12025550100","from":"12065550188","body":"routed {id}","id":"mdr2-fleet-{id}"}}"#);
            let res = load::client().post(format!("{}/acmein", direct(i))).header("content-type", "application/json");
            assert_eq!(res.body(body).send().await.unwrap().status(), StatusCode::OK);
            posted.push((i, at.elapsed(), format!("routed {id}")));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let routes = loop {
        let accepted = w.sink.accepted();
        let routes: Vec<Option<serde_json::Value>> = posted
            .iter()
            .map(|(_, _, body)| {
                accepted
                    .iter()
                    .find(|d| d.json["data"]["body"] == body.as_str())
                    .map(|d| d.json["data"]["extensions"].clone())
            })
            .collect();
        if routes.iter().all(Option::is_some) {
            break routes;
        }
        assert!(tokio::time::Instant::now() < deadline, "texts posted after the change never reached the PBX");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for i in [1, 2] {
        let mine: Vec<(Duration, &serde_json::Value)> = posted
            .iter()
            .zip(&routes)
            .filter(|((to, ..), _)| *to == i)
            .filter_map(|((_, when, _), went)| went.as_ref().map(|w| (*when, w)))
            .collect();
        assert!(mine.iter().any(|(_, went)| **went == json!(["200"])), "instance {i} never used the change");
        if let Some((when, went)) =
            mine.iter().filter(|(_, went)| **went != json!(["200"])).map(|(w, g)| (*w, *g)).next_back()
        {
            assert!(when < Duration::from_secs(1), "instance {i} still routed to {went} {when:?} after the change");
        }
    }
    let back = app.client.patch(&url).bearer_auth(&w.token).json(&json!({"destinations": ["101", "102"]})).send().await;
    assert_eq!(back.unwrap().status(), StatusCode::OK);

    // A stream on the third sees a text the first took, within a second.
    let admin = app.token(Role::TenantAdmin, Some("acme"), None);
    let mut stream = app.client.get(format!("{}/api/v1/events", direct(2))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let posted = tokio::time::Instant::now();
    let body = r#"{"to":"12025550100","from":"12065550188","body":"across","id":"mdr2-fleet-across"}"#;
    let res = load::client().post(format!("{}/acmein", direct(0))).header("content-type", "application/json");
    assert_eq!(res.body(body).send().await.unwrap().status(), StatusCode::OK);
    let mut seen = String::new();
    while !seen.contains("\"body\":\"across\"") {
        let left = Duration::from_secs(1).saturating_sub(posted.elapsed());
        match tokio::time::timeout(left, stream.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("the third instance's stream did not show the text within a second: {other:?}"),
        }
    }
    drop(stream);

    // The load: 300 texts from one number queued through the load balancer, and 600 inbound
    // texts posted through it as Flowroute posts them (retrying whatever is not a 200).
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    for i in 0..OUTBOUND {
        let body = json!({"to": format!("+1206556{:04}", i), "body": format!("fleet {i}")});
        let res = load::client().post(format!("{}/api/v1/messages", nginx.base)).bearer_auth(&ext).json(&body).send();
        assert_eq!(res.await.unwrap().status(), StatusCode::ACCEPTED, "send {i}");
    }
    let inbound = {
        let url = format!("{}/acmein", nginx.base);
        tokio::spawn(async move {
            let client = load::client();
            let mut retried = Vec::new();
            for i in 0..INBOUND {
                retried.extend(load::post_until_acknowledged(&client, &url, i, PEOPLE, Duration::from_secs(60)).await);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            retried
        })
    };

    // A rolling restart: each instance in turn stops gracefully and comes back; then one is
    // killed outright and started again.
    for (i, port) in ports.iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut old = instances[i].take().unwrap();
        old.terminate();
        let status = old.exited(Duration::from_secs(20)).await.expect("a graceful stop");
        assert!(status.success(), "instance {i}: {status:?}");
        instances[i] = Some(Server::restart(&app, &log(i), &env, &format!("127.0.0.1:{port}")).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    instances[1].take().unwrap().kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    instances[1] = Some(Server::restart(&app, &log(1), &env, &format!("127.0.0.1:{}", ports[1])).await);

    let retried = inbound.await.unwrap();
    println!("callbacks answered other than 200 (Flowroute retries them): {retried:?}");
    let seen = delivered_once(&w.sink, INBOUND, Duration::from_secs(120)).await;
    println!("repeats after the kill, under the same webhook-id: {}", seen.repeats());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while w.sim.accepted().iter().filter(|s| s.body.as_deref().is_some_and(|b| b.starts_with("fleet "))).count()
        < OUTBOUND
    {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {OUTBOUND} sent", w.sim.accepted().len());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    load::sent_once(&w.sim, "fleet", OUTBOUND);
    let (busiest, tightest) = load::busiest_second(&w.sim);
    println!("Flowroute requests: {}, six sends span at least {tightest:?} ms", w.sim.requests());
    assert!(busiest <= 5, "{busiest} sends in one second: Flowroute's limit is 5");
    drop(nginx);
}
