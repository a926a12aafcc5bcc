use std::net::TcpStream;

use duroxide::{orchestration, OrchestrationContext};

#[orchestration]
async fn ping(_ctx: OrchestrationContext) -> Result<(), String> {
    let stream = TcpStream::connect("127.0.0.1:8080").map_err(|e| e.to_string())?;
    drop(stream);
    Ok(())
}

fn main() {}
