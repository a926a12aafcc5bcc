use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, String> {
    println!("greeting {name}");
    ctx.schedule_activity("Greet", name).await
}

fn main() {}
