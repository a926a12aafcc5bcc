use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn fan_out(_ctx: OrchestrationContext) -> Result<(), String> {
    let handle = tokio::spawn(async { 1 + 1 });
    drop(handle);
    Ok(())
}

fn main() {}
