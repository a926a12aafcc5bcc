use duroxide::{activity, ActivityContext};

pub struct Connection;

#[activity]
async fn query(_ctx: ActivityContext, conn: Connection, sql: String) -> Result<u64, String> {
    let _ = (conn, sql);
    Ok(0)
}

fn main() {}
