//! Fan-out/fan-in: one orchestration schedules an activity per document, waits for all of
//! them with `ctx.join`, and aggregates the results.
//!
//! The activities finish in a different order than they were scheduled (each sleeps for a
//! time depending on its input), yet `join` hands the results back in the order the futures
//! were given. That order comes from history, not from polling, so every replay of the
//! orchestration aggregates exactly the same way.
//!
//! Run with `cargo run --example fan_out_fan_in`.

use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::{self, registry::ActivityRegistry};
use duroxide::{
    ActivityContext, Client, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus,
};
use serde::{Deserialize, Serialize};

/// What the `CountWords` activity returns (a typed payload: it travels as JSON).
#[derive(Debug, Serialize, Deserialize)]
struct WordCount {
    document: String,
    words: usize,
}

/// The orchestration: input is a comma-separated list of document names.
async fn count_all_words(ctx: OrchestrationContext, input: String) -> Result<String, String> {
    let documents: Vec<String> = input.split(',').map(str::to_string).collect();
    ctx.trace_info(format!("fanning out over {} documents", documents.len()));

    // Scheduling does not wait: all activities are queued before the first `await`, so the
    // worker runs them concurrently.
    let calls = documents
        .iter()
        .map(|doc| ctx.schedule_activity_typed::<String, WordCount>("CountWords", doc))
        .collect();
    let results = ctx.join(calls).await;

    // One failed document fails the whole count; collect() stops at the first Err.
    let counts: Vec<WordCount> = results.into_iter().collect::<Result<_, _>>()?;
    let total: usize = counts.iter().map(|c| c.words).sum();
    let per_document: Vec<String> = counts
        .iter()
        .map(|c| format!("{}={}", c.document, c.words))
        .collect();
    Ok(format!("{total} words ({})", per_document.join(", ")))
}

/// The "storage" the activity reads from; activities may do any I/O, orchestrations may not.
fn load(document: &str) -> Option<&'static str> {
    match document {
        "manual" => Some("write orchestrations as plain async code and let the runtime record every decision it makes"),
        "readme" => Some("a durable execution runtime for Rust with an embedded store"),
        "changelog" => Some("first release of the sled store"),
        "notice" => Some("MIT licensed"),
        _ => None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let store = Arc::new(SledProvider::new_in_memory().await?);

    let activities = ActivityRegistry::builder()
        .register_typed(
            "CountWords",
            |_ctx: ActivityContext, document: String| async move {
                let text = load(&document).ok_or(format!("no document named '{document}'"))?;
                let words = text.split_whitespace().count();
                // Stand-in for real work: bigger documents take longer, so the documents
                // finish in a different order than they were scheduled.
                tokio::time::sleep(Duration::from_millis(40 * words as u64)).await;
                println!("  activity finished: {document} ({words} words)");
                Ok(WordCount { document, words })
            },
        )
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register("CountAllWords", count_all_words)
        .build();

    let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
    let client = Client::new(store);

    // Largest first: the first scheduled finishes last.
    let documents = "manual,readme,changelog,notice";
    client
        .start_orchestration("fan-out-1", "CountAllWords", documents)
        .await?;
    let status = client
        .wait_for_orchestration("fan-out-1", Duration::from_secs(10))
        .await?;
    match status {
        OrchestrationStatus::Completed { output } => {
            println!("result, in input order: {output}");
        }
        other => return Err(format!("unexpected status: {other:?}").into()),
    }

    rt.shutdown(None).await;
    Ok(())
}
