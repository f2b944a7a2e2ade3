#[raceway::shared]
struct Pair(u32, u32);

#[raceway::shared]
enum State {
    Idle,
}

fn main() {}
