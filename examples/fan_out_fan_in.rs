//! Fan-out/fan-in: one orchestration schedules an activity per document, waits for all of
//! them with `ctx.join`, and aggregates the results.
//!
//! The activities finish in a different order than they were scheduled (each sleeps for a
//! time depending on its input), yet `join` hands the results back in the order the futures
//! were given. That order comes from history, not from polling, so every replay of the
//! orchestration aggregates exactly the same way.
//!
//! `#[activity]` and `#[orchestration]` give typed calls (`count_words::schedule` returns a
//! `DurableFuture<Result<WordCount, String>>`, which `ctx.join` takes like any other) and
//! register both fns without any registry code.
//!
//! Run with `cargo run --example fan_out_fan_in`.

use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::{activity, orchestration, ActivityContext, Client, OrchestrationContext, Runtime};
use serde::{Deserialize, Serialize};

/// What `count_words` returns (a typed payload: it travels as JSON).
#[derive(Debug, Serialize, Deserialize)]
struct WordCount {
    document: String,
    words: usize,
}

/// What `count_all_words` returns: the total and the per-document counts, in input order.
#[derive(Debug, Serialize, Deserialize)]
struct WordTotals {
    total: usize,
    per_document: Vec<WordCount>,
}

/// Counts the words of one document (an activity: it may do I/O; it runs at least once).
#[activity]
async fn count_words(_ctx: ActivityContext, document: String) -> Result<WordCount, String> {
    let text = load(&document).ok_or(format!("no document named '{document}'"))?;
    let words = text.split_whitespace().count();
    // Stand-in for real work: bigger documents take longer, so the documents finish in a
    // different order than they were scheduled.
    tokio::time::sleep(Duration::from_millis(40 * words as u64)).await;
    println!("  activity finished: {document} ({words} words)");
    Ok(WordCount { document, words })
}

/// The orchestration: one `count_words` per document, all at once, then the sum.
#[orchestration]
async fn count_all_words(
    ctx: OrchestrationContext,
    documents: Vec<String>,
) -> Result<WordTotals, String> {
    ctx.trace_info(format!("fanning out over {} documents", documents.len()));

    // Scheduling does not wait: all activities are queued before the first `await`, so the
    // worker runs them concurrently.
    let calls = documents
        .iter()
        .map(|doc| count_words::schedule(&ctx, doc.clone()))
        .collect();
    let results = ctx.join(calls).await;

    // One failed document fails the whole count; collect() stops at the first Err.
    let per_document: Vec<WordCount> = results.into_iter().collect::<Result<_, _>>()?;
    let total = per_document.iter().map(|c| c.words).sum();
    Ok(WordTotals {
        total,
        per_document,
    })
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

    // Every annotated fn linked into the binary is registered.
    let rt = Runtime::builder(store.clone()).start().await?;
    let client = Client::new(store);

    // Largest first: the first scheduled finishes last.
    let documents = ["manual", "readme", "changelog", "notice"].map(String::from);
    count_all_words::start(&client, "fan-out-1", documents.to_vec()).await?;
    let totals = count_all_words::wait(&client, "fan-out-1", Duration::from_secs(10)).await??;
    let per_document: Vec<String> = totals
        .per_document
        .iter()
        .map(|c| format!("{}={}", c.document, c.words))
        .collect();
    println!(
        "result, in input order: {} words ({})",
        totals.total,
        per_document.join(", ")
    );

    rt.shutdown(None).await;
    Ok(())
}
