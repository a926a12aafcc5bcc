use std::time::Duration;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn reminder(_ctx: OrchestrationContext) -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}

fn main() {}
