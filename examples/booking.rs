//! Two customers book the last seat: a check-then-act where every access holds the lock, so no
//! race detector objects, yet the seat is sold twice. Raceway reports it as a stale
//! read-modify-write.
//!
//! ```text
//! cargo run --example booking             # both customers book the one free seat
//! cargo run --example booking -- --fixed  # the check and the booking are one atomic update
//! ```
//!
//! No server is needed: without a `server_url` the embedded analyzer prints its report when the
//! guard returned by `raceway::init` is dropped.

use raceway::{lock, traced, Tracked};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Flight {
    /// Guards `free` (the tracked cell records each access under whatever locks are held).
    lock: Mutex<()>,
    free: Tracked<u32>,
}

/// The bug: the seat count is checked in one critical section and decremented in another,
/// after the payment's await, from the value read before it.
#[traced(skip(flight))]
async fn book(flight: Arc<Flight>, customer: &'static str) -> bool {
    let free = {
        let _g = lock!(flight.lock, "flight");
        flight.free.get()
    };
    if free == 0 {
        return false;
    }
    take_payment(customer).await;
    let _g = lock!(flight.lock, "flight");
    flight.free.set(free - 1);
    true
}

/// The fix: check and decrement in one atomic `update`, then take the payment (and give the seat
/// back if it fails).
#[traced(skip(flight))]
async fn book_fixed(flight: Arc<Flight>, customer: &'static str) -> bool {
    let reserved = flight.free.update(|free| {
        let ok = *free > 0;
        if ok {
            *free -= 1;
        }
        ok
    });
    if reserved {
        take_payment(customer).await;
    }
    reserved
}

#[traced]
async fn take_payment(customer: &str) {
    let _ = customer;
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::main]
async fn main() -> Result<(), raceway::Error> {
    let fixed = std::env::args().any(|a| a == "--fixed");
    let _guard = raceway::init(raceway::Config::from_env()?.service_name("booking"))?;

    let flight = Arc::new(Flight { lock: Mutex::new(()), free: Tracked::new("flight.free_seats", 1) });
    println!("{} booking: one free seat; ana and ben book it at the same time", if fixed { "Fixed" } else { "Racy" });
    let booking = |customer| {
        let flight = flight.clone();
        raceway::spawn(async move {
            if fixed {
                book_fixed(flight, customer).await
            } else {
                book(flight, customer).await
            }
        })
    };
    let (ana, ben) = (booking("ana"), booking("ben"));
    let booked = [("ana", ana.await.expect("ana's booking")), ("ben", ben.await.expect("ben's booking"))];
    let winners: Vec<&str> = booked.iter().filter(|(_, ok)| *ok).map(|(who, _)| *who).collect();
    println!("booked: {} (free seats left: {})", winners.join(" and "), flight.free.get());
    if winners.len() > 1 {
        println!("the seat was sold {} times: each booking decremented the count it read before paying", winners.len());
    }
    Ok(())
}
