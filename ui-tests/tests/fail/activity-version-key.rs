use duroxide::{activity, ActivityContext};

#[activity(version = "2.0.0")]
async fn greet(_ctx: ActivityContext, name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
