use duroxide::{activity, ActivityContext};

#[activity]
async fn greet(_ctx: ActivityContext, name: String) -> String {
    format!("Hello, {name}!")
}

fn main() {}
