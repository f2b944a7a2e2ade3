#[raceway::test(flavor = "multi_thread", worker_threads = 2)]
fn not_async() {}

#[raceway::test(flavor = "single")]
async fn unknown_flavor() {}

fn main() {}
