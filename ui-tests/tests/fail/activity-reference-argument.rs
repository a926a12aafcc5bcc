use duroxide::{activity, ActivityContext};

#[activity]
async fn greet(_ctx: ActivityContext, name: &str) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
