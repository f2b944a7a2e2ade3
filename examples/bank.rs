//! A bank with a lost-update race, found by Raceway, and the same bank fixed with `lock!`.
//!
//! ```text
//! cargo run --example bank             # two concurrent transfers lose an update
//! cargo run --example bank -- --fixed  # the same transfers, serialised by one lock
//! RACEWAY_REPORT_HTML=bank.html cargo run --example bank  # also the report as a page
//! ```
//!
//! No server is needed: without a `server_url` the embedded analyzer prints its race report when
//! the guard returned by `raceway::init` is dropped. `RACEWAY_BANK_FIXED=1` also selects the fix.

use raceway::{lock, shared, traced};
use std::sync::Arc;
use std::time::Duration;

/// An account. `#[shared]` makes `balance` a tracked cell named `Account[<owner>].balance`:
/// read it with `.get()`, write it with `.set(..)`, change it atomically with `.update(..)`.
#[shared]
struct Account {
    #[shared(key)]
    owner: &'static str,
    balance: i64,
}

struct Bank {
    accounts: Vec<Account>,
    /// The fix: every transfer holds this lock from its first read to its last write.
    ledger: tokio::sync::Mutex<()>,
}

impl Bank {
    fn account(&self, owner: &str) -> &Account {
        self.accounts.iter().find(|a| a.owner == owner).expect("known account")
    }
}

/// Moves `amount` from `from` to `to`. The bug: the source balance is read, then written back
/// after an await (a fraud check), so a transfer running meanwhile has its debit overwritten.
#[traced(skip(bank))]
async fn transfer(bank: Arc<Bank>, from: &'static str, to: &'static str, amount: i64, fixed: bool) {
    let _ledger = if fixed { Some(lock!(bank.ledger, "ledger").await) } else { None };
    let source = bank.account(from);
    let balance = source.balance.get();
    fraud_check(from, amount).await;
    source.balance.set(balance - amount);
    bank.account(to).balance.update(|b| *b += amount);
}

#[traced]
async fn fraud_check(owner: &str, amount: i64) {
    let _ = (owner, amount);
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::main]
async fn main() -> Result<(), raceway::Error> {
    let fixed = std::env::args().any(|a| a == "--fixed")
        || std::env::var("RACEWAY_BANK_FIXED").is_ok_and(|v| v == "1" || v == "true");
    let _guard = raceway::init(raceway::Config::from_env()?.service_name("bank"))?;

    let bank = Arc::new(Bank {
        accounts: vec![Account::new("alice", 100), Account::new("bob", 0), Account::new("carol", 0)],
        ledger: tokio::sync::Mutex::new(()),
    });
    println!(
        "{} bank: alice has 100; she sends 30 to bob and 50 to carol at the same time",
        if fixed { "Fixed" } else { "Racy" }
    );
    // Named tasks: the report says `to-bob` rather than a generated `bank-<pid>-task-<n>`.
    let to_bob = raceway::spawn_named("to-bob", transfer(bank.clone(), "alice", "bob", 30, fixed));
    let to_carol = raceway::spawn_named("to-carol", transfer(bank.clone(), "alice", "carol", 50, fixed));
    to_bob.await.expect("transfer to bob");
    to_carol.await.expect("transfer to carol");

    let balance = |owner| bank.account(owner).balance.get();
    let (alice, bob, carol) = (balance("alice"), balance("bob"), balance("carol"));
    println!("final balances: alice {alice}, bob {bob}, carol {carol} (total {})", alice + bob + carol);
    if alice == 20 {
        println!("alice has 20 as expected: the ledger lock made each transfer atomic");
    } else {
        println!(
            "alice should have 20 but has {alice}: both transfers read 100 before either wrote, so one \
             debit was lost and {} was created out of thin air",
            alice + bob + carol - 100
        );
        println!("run with --fixed to serialise transfers with raceway::lock!");
    }
    Ok(())
}
