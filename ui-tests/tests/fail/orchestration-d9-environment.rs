use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn configured(_ctx: OrchestrationContext) -> Result<String, String> {
    std::env::var("REGION").map_err(|e| e.to_string())
}

fn main() {}
