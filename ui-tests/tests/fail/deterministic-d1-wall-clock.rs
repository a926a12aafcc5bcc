use std::time::Instant;

#[duroxide::deterministic]
fn elapsed_ms(since: Instant) -> u128 {
    Instant::now().duration_since(since).as_millis()
}

fn main() {}
