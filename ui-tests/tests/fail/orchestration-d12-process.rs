use std::process::Command;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn deploy(_ctx: OrchestrationContext) -> Result<(), String> {
    let status = Command::new("make").status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("make failed".into());
    }
    Ok(())
}

fn main() {}
