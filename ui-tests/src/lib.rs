//! Holder crate for the trybuild UI tests in `tests/`, and a pedantic check of the
//! generated code: the workflows below are linted by `cargo clippy` with every pedantic
//! lint denied, so an expansion that trips one fails the workspace's clippy run.
#![deny(
    missing_docs,
    unused_qualifications,
    unsafe_code,
    missing_debug_implementations,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]

use duroxide::{activity, orchestration, ActivityContext, OrchestrationContext, RetryPolicy};
use serde::{Deserialize, Serialize};

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: u64,
    /// Its amount.
    pub cents: u64,
}

/// Why a payment failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayError {
    /// The card was declined.
    Declined,
}

/// Charges an order.
#[activity]
pub async fn charge(ctx: ActivityContext, order_id: u64, cents: u64) -> Result<u64, PayError> {
    ctx.trace_info(format!("charging {order_id}"));
    tokio::task::yield_now().await;
    if cents == 0 {
        return Err(PayError::Declined);
    }
    Ok(cents)
}

/// Does nothing, with no arguments.
#[activity(name = "Noop")]
pub async fn noop(_ctx: ActivityContext) -> Result<(), String> {
    tokio::task::yield_now().await;
    Ok(())
}

/// Checks out an order.
#[orchestration(version = "1.0.1")]
pub async fn checkout(ctx: OrchestrationContext, order: Order) -> Result<u64, String> {
    noop::schedule(&ctx).await?;
    let charged = charge::schedule_with_retry(&ctx, RetryPolicy::new(3), order.id, order.cents)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(charged)
}

/// Checks out several orders as sub-orchestrations.
#[orchestration]
pub async fn checkout_all(ctx: OrchestrationContext, orders: Vec<Order>) -> Result<u64, String> {
    let mut total = 0;
    for order in orders {
        total += checkout::schedule(&ctx, order).await?;
    }
    checkout::start_detached(
        &ctx,
        format!("audit-{}", ctx.instance_id()),
        Order { id: 0, cents: 1 },
    );
    Ok(total)
}

#[orchestration(name = "Private")]
async fn private_flow(ctx: OrchestrationContext, a: u8, b: String) -> Result<String, String> {
    let _ = checkout::schedule_with_id(
        &ctx,
        "child",
        Order {
            id: u64::from(a),
            cents: 1,
        },
    )
    .await?;
    Ok(b)
}

#[duroxide::deterministic]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Uses the private items so they count as used.
#[must_use]
pub fn names() -> [&'static str; 4] {
    let _ = add(1, 2);
    [charge::NAME, noop::NAME, checkout::NAME, private_flow::NAME]
}
