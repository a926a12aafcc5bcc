use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn approval(_ctx: OrchestrationContext) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u8>(1);
    drop(tx);
    let _ = rx.recv().await;
    Ok(())
}

fn main() {}
