use std::time::SystemTime as Clock;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn checkout(ctx: OrchestrationContext) -> Result<u64, String> {
    let started = Clock::now();
    ctx.trace_info(format!("{started:?}"));
    Ok(0)
}

fn main() {}
