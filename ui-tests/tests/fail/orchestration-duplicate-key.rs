use duroxide::{orchestration, OrchestrationContext};

#[orchestration(name = "Checkout", version = "1.0.0", name = "Checkout2")]
async fn checkout(_ctx: OrchestrationContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
