use duroxide::orchestration;

#[orchestration]
struct Checkout {
    id: u64,
}

fn main() {
    let _ = Checkout { id: 1 };
}
