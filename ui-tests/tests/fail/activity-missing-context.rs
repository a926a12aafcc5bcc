use duroxide::activity;

#[activity]
async fn greet(name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

fn main() {}
