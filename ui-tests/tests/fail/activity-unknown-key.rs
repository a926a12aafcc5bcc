use duroxide::{activity, ActivityContext};

#[activity(nmae = "Greet")]
async fn greet(_ctx: ActivityContext, name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
