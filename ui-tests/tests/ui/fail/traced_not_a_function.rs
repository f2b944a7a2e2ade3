#[raceway::traced]
struct Account {
    balance: u64,
}

#[raceway::traced]
impl Account {}

fn main() {}
