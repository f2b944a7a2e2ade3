#[raceway::test(iterations = 3, repeat = 5)]
fn unknown_option() {}

fn main() {}
