// The default flavor is current_thread: worker threads need the multi-thread runtime.
#[raceway::test(worker_threads = 2)]
async fn default_flavor() {}

#[raceway::test(flavor = "current_thread", worker_threads = 2)]
async fn explicit_current_thread() {}

fn main() {}
