//! Stubs for any number of arguments, typed outputs and errors; `run` calls an activity
//! body directly; the stubs compose with the durable combinators.
use std::time::Duration;

use duroxide::{
    activity, orchestration, ActivityContext, Client, DurableFuture, Either2, OrchestrationContext,
    RetryPolicy, WaitError,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub order: u64,
    pub charged: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PayError {
    Declined,
    Insufficient { missing: u64 },
}

#[activity]
async fn tick(_ctx: ActivityContext) -> Result<(), String> {
    Ok(())
}

#[activity]
async fn charge(_ctx: ActivityContext, order_id: u64, cents: u64) -> Result<Receipt, PayError> {
    if cents > 10_000 {
        return Err(PayError::Insufficient {
            missing: cents - 10_000,
        });
    }
    Ok(Receipt {
        order: order_id,
        charged: cents,
    })
}

#[activity(name = "Many")]
async fn many(
    _ctx: ActivityContext,
    a: u8,
    b: i64,
    c: String,
    d: Vec<u32>,
    e: Option<bool>,
    (f, g): (u8, u8),
    mut h: Order,
) -> Result<String, String> {
    h.id += u64::from(a) + u64::from(f) + u64::from(g);
    Ok(format!("{b}{c}{d:?}{e:?}{}", h.id))
}

mod res {
    /// An alias named `Result`, as many crates have.
    pub type Result<T> = std::result::Result<T, String>;
}

#[activity]
async fn aliased(_ctx: ActivityContext, x: u32) -> res::Result<u32> {
    Ok(x + 1)
}

#[orchestration(version = "1.2.3")]
async fn checkout(ctx: OrchestrationContext, order: Order) -> Result<Receipt, String> {
    tick::schedule(&ctx).await?;
    let receipt = match charge::schedule(&ctx, order.id, order.cents).await {
        Ok(receipt) => receipt,
        Err(PayError::Declined) => return Err("declined".into()),
        Err(PayError::Insufficient { missing }) => return Err(format!("missing {missing}")),
    };
    let retried: Result<Receipt, PayError> =
        charge::schedule_with_retry(&ctx, RetryPolicy::new(3), order.id, 1).await;
    let _ = retried;
    let fast: DurableFuture<Result<u32, String>> = aliased::schedule(&ctx, 1);
    match ctx
        .select2(fast, ctx.schedule_timer(Duration::from_secs(5)))
        .await
    {
        Either2::First(n) => ctx.trace_info(format!("{n:?}")),
        Either2::Second(()) => ctx.trace_info("timeout"),
    }
    let all = ctx
        .join(vec![aliased::schedule(&ctx, 1), aliased::schedule(&ctx, 2)])
        .await;
    let _ = all;
    let s = many::schedule(
        &ctx,
        1,
        -2,
        "c".into(),
        vec![3],
        None,
        (4, 5),
        order.clone(),
    )
    .await?;
    let _ = s;
    Ok(receipt)
}

#[orchestration]
async fn parent(ctx: OrchestrationContext, orders: Vec<Order>) -> Result<u64, String> {
    let mut total = 0;
    for order in orders {
        let receipt = checkout::schedule(&ctx, order.clone()).await?;
        total += receipt.charged;
        let again = checkout::schedule_with_id(&ctx, format!("again-{}", order.id), order).await?;
        total += again.charged;
    }
    checkout::start_detached(&ctx, "detached-1", Order { id: 1, cents: 1 });
    Ok(total)
}

#[allow(dead_code)]
async fn client_side(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    checkout::start(
        client,
        "order-42",
        Order {
            id: 42,
            cents: 1999,
        },
    )
    .await?;
    let receipt: Receipt = checkout::wait(client, "order-42", Duration::from_secs(5)).await??;
    let _ = receipt;
    match parent::wait(client, "p", Duration::from_secs(1)).await {
        Ok(Ok(total)) => assert!(total > 0),
        Ok(Err(message)) => eprintln!("failed: {message}"),
        Err(WaitError::Timeout { .. }) => {}
        Err(other) => eprintln!("{} failure: {other}", other.category()),
    }
    Ok(())
}

fn main() {
    let actx = ActivityContext::for_test("charge");
    let receipt = futures::executor::block_on(charge::run(actx.clone(), 7, 500)).unwrap();
    assert_eq!(
        receipt,
        Receipt {
            order: 7,
            charged: 500
        }
    );
    let declined = futures::executor::block_on(charge::run(actx.clone(), 7, 50_000));
    assert_eq!(declined, Err(PayError::Insufficient { missing: 40_000 }));
    let out = futures::executor::block_on(many::run(
        actx,
        1,
        2,
        "c".into(),
        vec![],
        Some(true),
        (1, 1),
        Order { id: 0, cents: 0 },
    ));
    assert_eq!(out.unwrap(), "2c[]Some(true)3");
    assert_eq!(many::NAME, "Many");
    assert_eq!(checkout::VERSION, "1.2.3");
    assert_eq!(<charge as duroxide::Activity>::NAME, "charge");
}
