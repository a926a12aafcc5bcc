use duroxide::{activity, OrchestrationContext};

#[activity]
async fn greet(_ctx: OrchestrationContext, name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
