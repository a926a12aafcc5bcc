//! Hello world with `#[activity]` and `#[orchestration]`: typed calls, no registration code.
//!
//! Run with `cargo run --example hello_world`. The store lives in a fresh temporary
//! directory that is removed at the end, so every run starts from scratch.

use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::{activity, orchestration, ActivityContext, Client, OrchestrationContext, Runtime};

/// Greets someone (an activity: it may do I/O; it runs at least once).
#[activity]
async fn hello(_ctx: ActivityContext, name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

/// Greets through the activity (an orchestration: deterministic, replayed from history).
#[orchestration]
async fn hello_world(ctx: OrchestrationContext, name: String) -> Result<String, String> {
    ctx.trace_info("hello started");
    let greeting = hello::schedule(&ctx, name).await?; // typed: a wrong argument type is a compile error
    Ok(greeting)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let dir = std::env::temp_dir().join(format!("duroxide-hello-{}", std::process::id()));
    let store = Arc::new(SledProvider::new(&dir, None).await?);

    // Every annotated fn linked into the binary is registered.
    let rt = Runtime::builder(store.clone()).start().await?;
    let client = Client::new(store);

    hello_world::start(&client, "inst-hello-1", "Rust".to_string()).await?;
    // `??`: the outer error is about waiting (timeout, cancellation, infrastructure), the
    // inner one is the orchestration's own `Err`.
    let greeting = hello_world::wait(&client, "inst-hello-1", Duration::from_secs(5)).await??;
    println!("{greeting}");

    rt.shutdown(None).await;
    // The client holds the last handle on the store; dropping it closes the database.
    drop(client);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
