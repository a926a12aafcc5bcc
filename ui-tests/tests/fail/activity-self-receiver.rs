use duroxide::{activity, ActivityContext};

struct Greeter;

impl Greeter {
    #[activity]
    async fn greet(&self, _ctx: ActivityContext, name: String) -> Result<String, String> {
        Ok(format!("Hello, {name}!"))
    }
}

fn main() {
    let _ = Greeter;
}
