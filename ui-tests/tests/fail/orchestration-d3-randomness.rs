use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn lottery(_ctx: OrchestrationContext) -> Result<u64, String> {
    let seed = RandomState::new().hash_one(1);
    Ok(seed)
}

fn main() {}
