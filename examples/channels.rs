//! A producer/consumer pipeline through `raceway::sync::mpsc`: the channel's handoff orders each
//! batch's filling before its processing, so the report is clean.
//!
//! ```text
//! cargo run --example channels            # batches handed over through the channel: no race
//! cargo run --example channels -- --racy  # the producer fills a batch after sending it: a race
//! ```
//!
//! No server is needed: the embedded analyzer prints its report when the guard from
//! `raceway::init` is dropped.

use raceway::sync::mpsc; // the only change from `use tokio::sync::mpsc;`
use raceway::Tracked;
use std::sync::Arc;

/// One batch of work: a tracked cell, so that every read and write of it is recorded.
type Batch = Arc<Tracked<Vec<u64>>>;

#[tokio::main]
async fn main() -> Result<(), raceway::Error> {
    let racy = std::env::args().any(|a| a == "--racy");
    let _guard = raceway::init(raceway::Config::from_env()?.service_name("channels"))?;
    println!(
        "{}: a producer fills 3 batches and sends each to a consumer through raceway::sync::mpsc",
        if racy { "Racy pipeline (fills each batch after sending it)" } else { "Pipeline" }
    );

    let (tx, mut rx) = mpsc::named_channel::<Batch>("batches", 2);
    let producer = raceway::spawn(async move {
        for n in 0..3u64 {
            let batch: Batch = Arc::new(Tracked::new(format!("batch[{n}]"), Vec::new()));
            if racy {
                // The bug: the batch is shared before it is ready, so the consumer may read it
                // while it is being filled. Nothing orders the write below before its read.
                tx.send(batch.clone()).await.expect("consumer alive");
                batch.set(vec![n, n * 10, n * 100]);
            } else {
                batch.set(vec![n, n * 10, n * 100]);
                tx.send(batch).await.expect("consumer alive"); // publishes the write above
            }
        }
    });
    let consumer = raceway::spawn(async move {
        let mut total = 0;
        while let Some(batch) = rx.recv().await {
            // Ordered after the producer's write by the receive (unless it came after the send).
            total += batch.read(|items| items.iter().sum::<u64>());
        }
        total
    });
    producer.await.expect("producer");
    let total = consumer.await.expect("consumer");
    println!("consumer processed a total of {total}");

    let report = raceway::report();
    if report.races.is_empty() {
        println!("no race: each batch was filled before the send that handed it over");
    } else {
        println!("{} race(s): a batch was written after it was handed over (see the report below)", report.races.len());
    }
    Ok(())
}
