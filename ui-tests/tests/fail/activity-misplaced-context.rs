use duroxide::{activity, ActivityContext};

#[activity]
async fn greet(name: String, _ctx: ActivityContext) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
