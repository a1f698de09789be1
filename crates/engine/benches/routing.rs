//! The routing decision and the DID lookup, the two in-memory steps of every inbound text.
//!
//! `cargo bench -p switchboard-engine --bench routing`. The lookup runs against the real routing
//! cache filled as the store would load it (each number its own route, destinations, extension
//! list and policy, which the cache shares between numbers routed alike) with 10,000 tenants ×
//! 100 numbers; the memory that set takes is printed.
//! Results: docs/BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_core::policy::PolicySpec;
use switchboard_core::routing::{RouteInput, route};
use switchboard_engine::RoutingCache;
use switchboard_store::routes::NumberRoute;
use uuid::Uuid;

const TENANTS: usize = 10_000;
const PER_TENANT: usize = 100;

fn policy() -> PolicySpec {
    serde_json::from_value(serde_json::json!({
        "name": "Front desk",
        "timezone": "America/New_York",
        "business_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"},
                           {"days": ["sat"], "start": "10:00", "end": "14:00"}],
        "after_hours": {"destinations": ["200"], "auto_reply": "We are closed; we will text you back."},
        "keywords": [{"keyword": "SALES", "destinations": ["300"]}, {"keyword": "SUPPORT", "destinations": ["400"]},
                     {"keyword": "BILLING", "destinations": ["500"]}],
        "help_reply": "Acme: reply STOP to opt out."
    }))
    .unwrap()
}

fn routing_decision(c: &mut Criterion) {
    let policy = policy();
    let destinations: Vec<String> = vec!["101".into(), "102".into()];
    // A Tuesday, 15:00 UTC = 10:00 in New York (open), and 03:00 UTC Wednesday (closed).
    let open = Utc.with_ymd_and_hms(2026, 11, 17, 15, 0, 0).unwrap();
    let closed = Utc.with_ymd_and_hms(2026, 11, 18, 3, 0, 0).unwrap();
    let mut group = c.benchmark_group("routing_decision");
    for (name, body, now) in [
        ("open_plain", "Hi, can I move my appointment to Friday?", open),
        ("open_keyword", "Sales: a quote for 40 seats please", open),
        ("closed_auto_reply", "Anyone there?", closed),
        ("stop", "STOP", open),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                route(black_box(RouteInput {
                    number_destinations: &destinations,
                    policy: Some(&policy),
                    body: Some(body),
                    now,
                    last_auto_reply: None,
                }))
            })
        });
    }
    group.bench_function("no_policy", |b| {
        b.iter(|| {
            route(black_box(RouteInput {
                number_destinations: &destinations,
                policy: None,
                body: Some("Hi"),
                now: open,
                last_auto_reply: None,
            }))
        })
    });
    group.finish();
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn did_lookup(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let store =
        rt.block_on(switchboard_store::Store::connect("sqlite::memory:", &[7u8; switchboard_store::MASTER_KEY_LEN]));
    let store = store.unwrap();
    let cache = RoutingCache::new();
    let spec = policy();
    let extensions: Vec<String> = (101..111).map(|e| e.to_string()).collect();
    let before = rss_mb();
    let mut keys = Vec::with_capacity(TENANTS * PER_TENANT);
    {
        for t in 0..TENANTS {
            let tenant = Uuid::new_v4();
            let prefix: Arc<str> = format!("tenant{t}in").into();
            for n in 0..PER_TENANT {
                let e164 = format!("+1{}", 2_000_000_000 + t * PER_TENANT + n);
                keys.push(e164.clone());
                let route = NumberRoute {
                    number_id: Uuid::new_v4(),
                    tenant_id: tenant,
                    e164,
                    prefix: prefix.clone(),
                    destinations: extensions[..2].to_vec(),
                    enabled_extensions: extensions.clone(),
                    // Half the tenants have a policy; each number's route holds its own copy, as loaded.
                    policy: (t % 2 == 0).then(|| Arc::new(spec.clone())),
                };
                cache.insert_number(route);
            }
        }
    }
    let after = rss_mb();
    eprintln!(
        "routing cache: {} numbers of {TENANTS} tenants take {:.0} MB (process RSS {before:.0} -> {after:.0} MB)",
        keys.len(),
        after - before,
    );
    // Spread over the whole set, in an order the cache cannot predict.
    let stride = 7_919;
    let mut i = 0usize;
    c.bench_function("did_lookup_1m", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + stride) % keys.len();
            let key = &keys[i];
            let (cache, store) = (&cache, &store);
            async move {
                let found = cache.number(store, key).await.unwrap();
                assert!(found.is_some());
                found
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = routing_decision, did_lookup
}
criterion_main!(benches);
