// #[shared] structs, Tracked cells and every lock! form.
use raceway::{lock, Tracked, TrackedMutex, TrackedRwLock};
use std::sync::{Arc, Mutex, RwLock};

#[derive(Debug)]
struct NotSerialize(u8);

struct Neither;

#[raceway::shared]
#[derive(Debug)]
pub struct Account {
    #[shared(key)]
    pub id: u64,
    pub balance: i64,
    pub state: Option<String>,
    #[shared(skip)]
    pub cache: Vec<u8>,
}

#[raceway::shared(name = "Sess", constructor = "open")]
struct Session<T: Send> {
    debug_only: NotSerialize,
    opaque: Neither,
    value: T,
}

fn main() {
    let a = Arc::new(Account::new(1, 100, None, Vec::new()));
    a.balance.set(a.balance.get() - 5);
    a.state.update(|s| *s = Some("x".into()));
    let s = Session::open(NotSerialize(1), Neither, 5u8);
    s.debug_only.update(|d| d.0 += 1);
    s.opaque.set(Neither);
    let _ = s.value.get();
    let t = Tracked::new_debug("t", NotSerialize(0));
    t.read(|v| v.0);

    let m = Mutex::new(0);
    *lock!(m) += 1;
    *lock!(&m, "named") += 1;
    let am = Arc::new(Mutex::new(0));
    *lock!(am) += 1;
    let rw = RwLock::new(0);
    let seen = *lock!(read rw, "rw");
    *lock!(write rw) += seen;
    let tm = TrackedMutex::new(0);
    *lock!(tm) += 1;
    let trw = TrackedRwLock::named("cfg", 0);
    let seen = *trw.read();
    *lock!(write trw) += seen;

    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let m = tokio::sync::Mutex::new(0);
        *lock!(m).await += 1;
        let rw = tokio::sync::RwLock::new(0);
        *lock!(write rw, "cfg").await += 1;
        let _ = *lock!(read rw).await;
    });
}
