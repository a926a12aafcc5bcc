use duroxide::{orchestration, OrchestrationContext};

type Answer = u64;

#[orchestration]
async fn answer(_ctx: OrchestrationContext) -> Answer {
    42
}

fn main() {}
