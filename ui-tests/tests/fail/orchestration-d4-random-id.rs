use duroxide::{orchestration, OrchestrationContext};
use uuid::Uuid;

#[orchestration]
async fn new_order(_ctx: OrchestrationContext) -> Result<String, String> {
    Ok(Uuid::new_v4().to_string())
}

fn main() {}
