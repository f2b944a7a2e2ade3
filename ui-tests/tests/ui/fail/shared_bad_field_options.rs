#[raceway::shared(label = "A")]
struct Account {
    #[shared(key)]
    id: u32,
    #[shared(key)]
    owner: String,
    #[shared(skip, key)]
    note: String,
    #[shared(tracked)]
    balance: u64,
}

fn main() {}
