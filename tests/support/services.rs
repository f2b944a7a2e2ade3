//! Loopback HTTP services for the round-trip tests: axum routers served on free ports by a
//! runtime of their own, so they outlive each test's runtime.

use std::future::Future;
use std::net::SocketAddr;

/// Serves `router` on a free loopback port (inside a tokio runtime) and returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Runs `start` on a two-worker runtime of its own thread, kept alive for the process, and
/// returns what it gave (typically the addresses of the services it started with [`serve`]).
pub fn on_own_runtime<T, F>(start: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            tx.send(start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}
