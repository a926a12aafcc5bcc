use duroxide::{activity, ActivityContext};

#[activity]
async fn echo<T: serde::Serialize>(_ctx: ActivityContext, value: T) -> Result<T, String> {
    Ok(value)
}

fn main() {}
