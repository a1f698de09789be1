//! End-to-end tests of the admin API: each test starts the real application on 127.0.0.1:0 and
//! runs once on SQLite and once on PostgreSQL (a fresh database per test).
//!
//! PostgreSQL runs when `SB_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); without it
//! those variants are reported as ignored and a line says PostgreSQL was not covered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server;
mod sink;
mod support;
mod wired;

mod admin;
mod auth;
mod crash;
mod dispatch;
mod inbound;
mod isolation;
mod live;
mod media;
mod ops;
mod security;
mod send;
mod validation;

use std::future::Future;
use std::pin::Pin;

use libtest_mimic::{Arguments, Trial};
use support::{Backend, TestApp};

/// The longest any one test may take.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

type TestFn = fn(TestApp) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Registers async test functions by name.
macro_rules! tests {
    ($($path:path),* $(,)?) => {
        vec![$((stringify!($path), (|app| Box::pin($path(app))) as TestFn)),*]
    };
}

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("SB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty());
    let all: Vec<(&str, TestFn)> = tests![
        admin::tenant_lifecycle_shows_the_secret_once,
        admin::a_tenant_is_configured_end_to_end_through_the_api,
        admin::deleting_something_in_use_is_409_naming_the_referrer,
        admin::names_taken_anywhere_are_409,
        admin::lists_paginate_with_cursors,
        admin::patches_set_clear_and_keep_fields,
        admin::provider_secret_is_never_returned_nor_stored_in_plain_text,
        admin::moving_a_providers_endpoint_needs_its_secret_again,
        admin::messages_and_opt_outs_are_readable_filtered_and_liftable,
        admin::concurrent_writers_queue_instead_of_failing,
        auth::tokens_are_hs256_with_expiry_only,
        auth::roles_are_enforced_per_route,
        auth::a_suspended_tenant_may_read_and_its_sends_wait,
        auth::a_deleted_tenants_token_does_not_open_its_namesake,
        isolation::another_tenants_resources_are_404_everywhere,
        isolation::every_documented_route_hides_another_tenants_data,
        inbound::every_inbound_fixture_reaches_the_pbx_signed,
        inbound::unknown_senders_get_the_catch_all_company,
        inbound::the_same_text_posted_concurrently_is_stored_and_delivered_once,
        inbound::a_batch_keeps_every_promise_of_a_single_text,
        inbound::overlong_media_names_are_shortened_not_refused,
        inbound::provider_ids_are_unique_per_tenant_only,
        inbound::what_must_be_refused_is_refused_and_stores_nothing,
        inbound::a_pbx_outage_delays_but_never_loses_or_repeats,
        inbound::a_delivery_that_never_succeeds_goes_dead_with_an_event,
        inbound::a_hanging_pbx_does_not_slow_another_tenant,
        inbound::a_failing_pbx_is_backed_off_as_a_whole,
        inbound::policies_route_reply_and_record_opt_outs,
        inbound::after_hours_auto_reply_goes_once_per_interval,
        inbound::automatic_replies_go_to_nanp_numbers_at_most_daily,
        inbound::delivery_receipts_move_status_forward_only,
        inbound::a_rotated_secret_signs_alongside_the_previous_one,
        inbound::a_hardened_prefix_answers_only_its_token_and_sources,
        live::event_streams_resume_and_show_each_caller_only_its_texts,
        live::inboxes_show_each_extension_its_conversations_and_unread_counts,
        live::the_event_log_never_shows_a_number_below_one_already_seen,
        live::streams_are_limited_per_extension_and_per_tenant,
        live::a_disabled_extension_is_shut_out_and_its_streams_closed,
        live::an_idle_stream_ends_and_resumes,
        crash::a_crash_after_the_200_loses_and_repeats_nothing,
        crash::a_crash_mid_dispatch_sends_everything_exactly_once,
        crash::a_send_whose_answer_is_lost_is_matched_by_its_receipt,
        media::mms_media_are_fetched_kept_and_served_to_who_may_see_them,
        media::attachments_are_capped_per_text_and_per_tenant,
        send::extensions_send_from_their_numbers_and_refusals_say_why,
        send::an_idempotency_key_sends_once,
        send::sends_read_the_senders_rights_inside_their_transaction,
        dispatch::a_queued_text_reaches_flowroute_exactly_as_documented,
        dispatch::transient_failures_are_retried_and_sent_once,
        dispatch::rate_limit_answers_wait_without_spending_retries,
        dispatch::a_refusal_fails_the_text_without_retry,
        dispatch::limits_per_number_and_per_key_hold,
        dispatch::an_mms_flowroute_cannot_fetch_fails_with_its_reason,
        dispatch::a_hanging_flowroute_does_not_slow_another_tenant,
        security::every_route_refuses_an_oversized_body_up_front,
        security::guessing_at_the_ingress_blocks_only_the_guesser,
        security::sql_looking_strings_are_stored_and_returned_verbatim,
        security::no_secret_reaches_the_log_even_at_debug_level,
        security::tenant_set_urls_cannot_reach_private_networks,
        security::every_hop_of_every_request_is_guarded,
        security::forwarded_addresses_are_believed_only_from_trusted_proxies,
        security::prefixes_need_a_token_or_an_allow_list,
        validation::malformed_input_gets_a_clear_problem_and_changes_nothing,
        validation::bodies_must_be_json_and_small,
        ops::health_metrics_openapi_and_docs_need_no_token,
        ops::metrics_labels_come_from_fixed_sets,
        ops::metrics_can_require_a_token,
        ops::every_response_carries_a_request_id_and_security_headers,
        ops::graceful_shutdown_finishes_requests_in_flight,
        ops::the_demo_routes_a_text_end_to_end,
    ];
    if postgres.is_none() && std::env::var_os("SB_TEST_REQUIRE_POSTGRES").is_some() {
        eprintln!("SB_TEST_REQUIRE_POSTGRES is set but SB_TEST_POSTGRES_URL is not");
        std::process::exit(2);
    }
    if postgres.is_none() {
        eprintln!(
            "note: PostgreSQL was not covered: set SB_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
             to run every test on PostgreSQL too (.ci/run does)"
        );
    }
    let mut trials = Vec::new();
    for (name, test) in all {
        let name = name.replace("::", "_");
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let pg = postgres.clone();
            let skip = backend == Backend::Postgres && pg.is_none();
            let trial = Trial::test(format!("{}::{name}", backend.name()), move || {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                rt.block_on(async move {
                    let app = TestApp::spawn(backend, pg.as_deref()).await;
                    let teardown = app.teardown_handle();
                    // The test runs as a task so a failure still lets its database be dropped.
                    // A hung test fails with its name instead of stalling the whole run.
                    let outcome = tokio::time::timeout(TEST_TIMEOUT, tokio::spawn(test(app))).await;
                    teardown.run().await;
                    match outcome {
                        Err(_) => panic!("timed out after {TEST_TIMEOUT:?}"),
                        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Ok(_) => {}
                    }
                });
                Ok(())
            })
            .with_ignored_flag(skip);
            trials.push(trial);
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
