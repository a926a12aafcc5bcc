//! The provider conformance suite: what every [`Provider`](crate::providers::Provider) must
//! do for the runtime to keep its guarantees. Enabled by the `provider-test` feature.
//!
//! Each check is a public async fn taking a fresh, empty store and panicking with a message
//! that names the broken guarantee. [`provider_conformance_tests!`](crate::provider_conformance_tests)
//! turns all of them into `#[tokio::test]`s for your store:
//!
//! ```ignore
//! // tests/conformance.rs of a crate implementing a store (needs tokio with `macros`)
//! duroxide::provider_conformance_tests!(|| async {
//!     std::sync::Arc::new(MyStore::connect_fresh().await) as std::sync::Arc<dyn duroxide::providers::Provider>
//! });
//! ```
//!
//! [`FaultyProvider`] wraps any store and injects failures and delays, to test the runtime
//! (not the store) against an unreliable store.
//!
//! The checks use real time (lock expiry, delayed visibility) with short durations; they
//! wait on the store's own long-poll (`fetch_*` with a `wait`), never on fixed sleeps.

// These are tests: a failed expectation panics, which is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod atomicity;
mod faults;
mod fixtures;
mod locks;
mod management;
mod queues;
mod stress;
mod work;

pub use atomicity::*;
pub use faults::{FaultPlan, FaultPoint, FaultyProvider};
pub use locks::*;
pub use management::*;
pub use queues::*;
pub use stress::*;
pub use work::*;

/// Generates one `#[tokio::test]` per conformance check, each on a fresh store made by
/// `$factory` (a closure returning a future of `Arc<dyn Provider>`).
#[macro_export]
macro_rules! provider_conformance_tests {
    ($factory:expr) => {
        $crate::provider_conformance_tests!(@each $factory;
            create_then_fetch_delivers_start,
            create_existing_instance_is_refused,
            messages_of_an_instance_arrive_in_enqueue_order,
            delayed_message_is_invisible_until_due,
            fetch_wakes_when_work_is_enqueued,
            ack_commits_history_messages_and_work_atomically,
            failed_ack_changes_nothing,
            instance_lock_is_exclusive,
            messages_arriving_during_a_turn_wait_for_the_next,
            expired_lock_is_redelivered_and_fenced,
            abandon_with_delay_hides_messages,
            renew_extends_the_lock,
            orchestration_deliveries_count_until_a_turn_commits,
            work_item_ack_enqueues_completion_atomically,
            work_item_lock_is_exclusive_and_expires,
            work_item_abandon_counts_attempts,
            executions_are_kept_apart,
            delete_instance_removes_record_history_and_messages,
            delete_executions_keeps_others,
            list_instances_is_sorted,
            many_instances_many_workers_each_turn_once
        );
    };
    (@each $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: ::std::sync::Arc<dyn $crate::providers::Provider> = ($factory)().await;
                $crate::provider_tests::$case(store).await;
            }
        )*
    };
}
