use std::collections::HashMap;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn notify_all(ctx: OrchestrationContext, emails: HashMap<String, String>) -> Result<(), String> {
    for (user, email) in &emails {
        ctx.schedule_activity("Send", format!("{user} {email}")).await?;
    }
    Ok(())
}

fn main() {}
