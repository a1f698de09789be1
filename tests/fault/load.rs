//! Inbound load as Flowroute makes it, and what the PBX sink must have seen afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::sink::{Delivery, Sink};

/// The remote party of text `i` when texts are spread over `people` conversations.
pub fn remote(i: usize, people: usize) -> String {
    format!("+120655501{:02}", i % people)
}

/// Text `i` as Flowroute posts it: compact format, a stable Flowroute id, a unique body.
pub fn text(i: usize, people: usize) -> Vec<u8> {
    let from = remote(i, people);
    format!(
        r#"{{"to":"12025550100","from":"{}","body":"fault {i}","id":"mdr2-fault-{i:06}"}}"#,
        from.trim_start_matches('+')
    )
    .into_bytes()
}

/// Posts text `i`; `None` when no answer came (refused connection, reset, timeout).
pub async fn post(client: &reqwest::Client, url: &str, i: usize, people: usize) -> Option<u16> {
    let res = client.post(url).header("content-type", "application/json").body(text(i, people)).send().await.ok()?;
    let status = res.status().as_u16();
    res.bytes().await.ok()?;
    Some(status)
}

/// Posts text `i` until it is acknowledged, as Flowroute retries; returns the failed tries' answers.
pub async fn post_until_acknowledged(
    client: &reqwest::Client,
    url: &str,
    i: usize,
    people: usize,
    within: Duration,
) -> Vec<Option<u16>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut failed = Vec::new();
    loop {
        match post(client, url, i, people).await {
            Some(200) => return failed,
            other => failed.push(other),
        }
        assert!(tokio::time::Instant::now() < deadline, "text {i} was never acknowledged: {failed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client as Flowroute's: its own connections, a bounded wait.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// The PBX's view of the suite's texts: each body with the webhook-ids it arrived under.
pub struct Seen {
    pub deliveries: Vec<Delivery>,
    pub ids: BTreeMap<String, BTreeSet<String>>,
}

impl Seen {
    pub fn of(sink: &Sink) -> Self {
        let deliveries: Vec<Delivery> = sink
            .accepted()
            .into_iter()
            .filter(|d| d.json["type"] == "message.received")
            .filter(|d| d.json["data"]["body"].as_str().is_some_and(|b| b.starts_with("fault ")))
            .collect();
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for d in &deliveries {
            let body = d.json["data"]["body"].as_str().unwrap_or_default().to_owned();
            ids.entry(body).or_default().insert(d.id.clone());
        }
        Self { deliveries, ids }
    }

    /// Deliveries beyond the first of each webhook-id (at-least-once repeats after a crash).
    pub fn repeats(&self) -> usize {
        self.deliveries.len() - self.ids.values().map(BTreeSet::len).sum::<usize>()
    }
}

/// Waits until texts `0..n` all reached the sink, then checks each arrived under one webhook-id.
pub async fn delivered_once(sink: &Sink, n: usize, within: Duration) -> Seen {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = Seen::of(sink);
        if seen.ids.len() >= n {
            // Let any late repeat arrive before judging.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let seen = Seen::of(sink);
            for i in 0..n {
                let ids = seen.ids.get(&format!("fault {i}"));
                assert!(ids.is_some(), "text {i} never reached the PBX");
                assert_eq!(ids.map(BTreeSet::len), Some(1), "text {i} reached the PBX as two events: {ids:?}");
            }
            assert_eq!(seen.ids.len(), n, "texts the suite never posted reached the PBX");
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} texts reached the PBX within {within:?}",
            seen.ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the simulated Flowroute has taken `n` texts, at most `within`.
pub async fn accepted(sim: &flowroute_sim::Sim, n: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while sim.accepted().len() < n {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {n} sent", sim.accepted().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks the simulated Flowroute took texts `"{prefix} {i}"` for `i` in `0..n` once each.
pub fn sent_once(sim: &flowroute_sim::Sim, prefix: &str, n: usize) {
    let accepted = sim.accepted();
    for i in 0..n {
        let body = format!("{prefix} {i}");
        let times = accepted.iter().filter(|s| s.body.as_deref() == Some(body.as_str())).count();
        assert_eq!(times, 1, "{body} was sent {times} times");
    }
}

/// The most sends the simulated Flowroute took in any one second, and the shortest span (ms) of
/// six in a row (over 1,000, or a sixth would have shared a second with five).
pub fn busiest_second(sim: &flowroute_sim::Sim) -> (usize, Option<u128>) {
    let mut at: Vec<u128> = sim.accepted().iter().map(|s| s.at_ms).collect();
    at.sort_unstable();
    (flowroute_sim::busiest_second(at.clone()), at.windows(6).map(|w| w[5] - w[0]).min())
}
