// Every problem of the option list is reported, each at its own token.
#[raceway::traced(level = "info", ret, ret, name = "a", name = "b")]
fn transfer(amount: u64) -> u64 {
    amount
}

fn main() {
    let _ = transfer(1);
}
