use duroxide::{activity, orchestration, ActivityContext, OrchestrationContext};

#[activity]
async fn charge(_ctx: ActivityContext, cents: u64) -> Result<u64, String> {
    Ok(cents)
}

#[orchestration]
async fn checkout(ctx: OrchestrationContext, cents: u64) -> Result<u64, String> {
    // Runs the activity inline, outside the runtime: not recorded, repeated on replay.
    charge(ctx, cents).await
}

fn main() {}
