#[raceway::traced(skip(amout))]
fn transfer(from: &str, amount: u64) -> u64 {
    let _ = from;
    amount
}

#[raceway::traced(skip(x), skip_all)]
fn both(x: u8) -> u8 {
    x
}

fn main() {
    let _ = (transfer("a", 1), both(1));
}
