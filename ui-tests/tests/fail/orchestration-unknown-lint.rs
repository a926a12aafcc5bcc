use duroxide::{orchestration, OrchestrationContext};

#[orchestration(allow(D99))]
async fn checkout(_ctx: OrchestrationContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
