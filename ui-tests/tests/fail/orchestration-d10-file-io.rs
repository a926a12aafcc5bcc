use std::fs;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn load(_ctx: OrchestrationContext) -> Result<String, String> {
    fs::read_to_string("config.toml").map_err(|e| e.to_string())
}

fn main() {}
