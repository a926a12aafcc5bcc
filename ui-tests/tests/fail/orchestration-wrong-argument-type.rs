use duroxide::{activity, orchestration, ActivityContext, OrchestrationContext};

#[activity]
async fn charge(_ctx: ActivityContext, order_id: u64, cents: u64) -> Result<u64, String> {
    Ok(order_id + cents)
}

#[orchestration]
async fn checkout(ctx: OrchestrationContext, order_id: String) -> Result<u64, String> {
    charge::schedule(&ctx, order_id, 1999).await
}

fn main() {}
