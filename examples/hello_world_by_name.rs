//! Hello world without the macros: one orchestration calling one activity, registered by
//! name, on the embedded sled store. `hello_world` is the same program with the macros.
//!
//! Run with `cargo run --example hello_world_by_name`. The store lives in a fresh temporary
//! directory that is removed at the end, so every run starts from scratch.

use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::{self, registry::ActivityRegistry};
use duroxide::{
    ActivityContext, Client, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let dir = std::env::temp_dir().join(format!("duroxide-hello-by-name-{}", std::process::id()));
    let store = Arc::new(SledProvider::new(&dir, None).await?);

    let activities = ActivityRegistry::builder()
        .register("Hello", |_ctx: ActivityContext, name: String| async move {
            Ok(format!("Hello, {name}!"))
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "HelloWorld",
            |ctx: OrchestrationContext, name: String| async move {
                ctx.trace_info("hello started");
                let greeting = ctx.schedule_activity("Hello", name).await?;
                Ok(greeting)
            },
        )
        .build();

    let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
    let client = Client::new(store);
    client
        .start_orchestration("inst-hello-1", "HelloWorld", "Rust")
        .await?;
    match client
        .wait_for_orchestration("inst-hello-1", Duration::from_secs(5))
        .await?
    {
        OrchestrationStatus::Completed { output } => println!("{output}"),
        OrchestrationStatus::Failed { details } => {
            return Err(format!("failed: {}", details.display_message()).into())
        }
        other => return Err(format!("unexpected status: {other:?}").into()),
    }
    rt.shutdown(None).await;
    // The client holds the last handle on the store; dropping it closes the database.
    drop(client);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
