// Every asynchronous shape #[traced] supports.
use std::future::Future;
use std::pin::Pin;

#[raceway::traced(ret)]
async fn plain(a: u32) -> u32 {
    tokio::task::yield_now().await;
    a
}

#[raceway::traced(err)]
async fn fallible(s: String) -> Result<u8, std::num::ParseIntError> {
    let n = s.parse::<u8>()?;
    Ok(n)
}

#[raceway::traced(ret)]
async fn borrowing<'a>(s: &'a str) -> &'a str {
    s
}

#[raceway::traced(ret, err)]
async fn elided(s: &str) -> Result<&str, String> {
    Ok(s)
}

#[raceway::traced]
async fn generic<T: Send + std::fmt::Debug>(t: T) -> T {
    t
}

#[raceway::traced(ret)]
fn impl_future(n: u8) -> impl Future<Output = u8> {
    async move { n }
}

#[raceway::traced(err)]
fn boxed(n: u8) -> Pin<Box<dyn Future<Output = Result<u8, String>> + Send>> {
    Box::pin(async move { if n > 0 { Ok(n) } else { Err("zero".to_string()) } })
}

struct Svc;

trait Native {
    async fn call(&self, x: u8) -> u8;
}

impl Native for Svc {
    #[raceway::traced]
    async fn call(&self, x: u8) -> u8 {
        x
    }
}

// What `#[async_trait]` turns an `async fn` into (applied before #[traced]).
trait AsyncTraitShape {
    fn call<'life0, 'async_trait>(&'life0 self, x: u8) -> Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait;
}

impl AsyncTraitShape for Svc {
    #[raceway::traced(ret)]
    fn call<'life0, 'async_trait>(&'life0 self, x: u8) -> Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let __ret: u8 = { x + 1 };
            __ret
        })
    }
}

impl Svc {
    #[raceway::traced]
    async fn method(&self, x: u8) -> u8 {
        x
    }

    #[raceway::traced]
    async fn consume(self) {}
}

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = plain(1).await;
    let _ = fallible("1".into()).await;
    let _ = borrowing("x").await;
    let _ = elided("x").await;
    let _ = generic(1u8).await;
    let _ = impl_future(1).await;
    let _ = boxed(1).await;
    let _ = Native::call(&Svc, 1).await;
    let _ = AsyncTraitShape::call(&Svc, 1).await;
    let _ = assert_send(Svc.method(1)).await;
    let _ = tokio::spawn(assert_send(plain(2))).await;
    Svc.consume().await;
}
