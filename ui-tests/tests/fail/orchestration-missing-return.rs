use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn fire_and_forget(ctx: OrchestrationContext) {
    let _ = ctx.schedule_activity("Work", "").await;
}

fn main() {}
