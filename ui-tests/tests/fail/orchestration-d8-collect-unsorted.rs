use std::collections::HashMap;

use duroxide::{orchestration, OrchestrationContext};

// Collecting hash-ordered keys into a `Vec` keeps the hash order; only a sort (or an
// ordered collection) makes the loop below deterministic.
#[orchestration]
async fn notify_all(ctx: OrchestrationContext, emails: HashMap<String, String>) -> Result<(), String> {
    let users: Vec<String> = emails.keys().cloned().collect();
    for user in users {
        ctx.schedule_activity("Send", user).await?;
    }
    Ok(())
}

fn main() {}
