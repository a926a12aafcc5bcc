use std::time::Duration;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn race(ctx: OrchestrationContext) -> Result<String, String> {
    let work = ctx.schedule_activity("Work", "");
    let timer = ctx.schedule_timer(Duration::from_secs(5));
    tokio::select! {
        result = work => result,
        () = timer => Err("timeout".to_string()),
    }
}

fn main() {}
