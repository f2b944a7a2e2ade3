#[raceway::test(iterations = 0)]
fn never_runs() {}

#[raceway::test(iterations = "10")]
fn iterations_as_a_string() {}

fn main() {}
