use duroxide::{orchestration, OrchestrationContext};

#[orchestration(version = "1.0")]
async fn checkout(_ctx: OrchestrationContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
