// Every synchronous shape #[traced] supports.
use std::fmt::Debug;

#[raceway::traced]
fn free(a: u32, b: &str) -> usize {
    a as usize + b.len()
}

#[raceway::traced(name = "custom", skip(secret), fields(len = data.len(), "dotted.key" = 1, data))]
fn with_options(data: Vec<u8>, secret: String) {
    let _ = (data, secret);
}

#[raceway::traced(skip_all, ret)]
fn skipping(_a: u8, _b: u8) -> &'static str {
    "x"
}

#[raceway::traced(ret)]
fn borrowed<'a>(s: &'a str, _n: u8) -> &'a str {
    &s[1..]
}

#[raceway::traced(ret)]
fn elided(s: &str) -> &str {
    s.trim()
}

#[raceway::traced(ret)]
fn opaque(n: u8) -> impl Debug {
    n
}

#[raceway::traced]
fn generic<T, U: Clone>(t: T, u: &U) -> (T, U)
where
    T: Debug + Default,
{
    (t, u.clone())
}

#[raceway::traced]
fn impl_arg(x: impl Debug, f: impl Fn(u8) -> u8) -> u8 {
    let _ = x;
    f(1)
}

#[raceway::traced]
fn patterns((a, b): (u8, u8), [c, _]: [u8; 2], _: u8) -> u8 {
    a + b + c
}

#[raceway::traced]
unsafe fn raw(p: *const u8) -> u8 {
    unsafe { *p }
}

#[raceway::traced]
extern "C" fn c_abi(x: i32) -> i32 {
    x
}

#[raceway::traced]
fn r#match(r#type: u8) -> u8 {
    r#type
}

struct S {
    v: Vec<u8>,
}

trait T {
    fn by_ref(&self) -> usize;
    fn by_mut(&mut self, x: u8);
    fn by_value(self) -> Vec<u8>;
    fn provided(&self) -> u8 {
        0
    }
}

impl T for S {
    #[raceway::traced]
    fn by_ref(&self) -> usize {
        self.v.len()
    }

    #[raceway::traced(fields(len = self.v.len()))]
    fn by_mut(&mut self, x: u8) {
        self.v.push(x);
    }

    #[raceway::traced(ret)]
    fn by_value(self) -> Vec<u8> {
        self.v
    }
}

trait WithDefault {
    #[raceway::traced]
    fn default_method(&self, n: u8) -> u8 {
        n
    }
}

impl WithDefault for S {}

impl S {
    #[raceway::traced(ret)]
    fn new() -> Self {
        S { v: Vec::new() }
    }

    #[raceway::traced(err)]
    fn parse(&self, s: &str) -> Result<u8, std::num::ParseIntError> {
        let n: u8 = s.parse()?;
        Ok(n)
    }

    #[raceway::traced(err, ret)]
    fn io(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("x"))
    }

    #[raceway::traced(ret)]
    fn first_mut(&mut self) -> &mut u8 {
        &mut self.v[0]
    }

    #[raceway::traced]
    fn diverges(&self) -> ! {
        panic!("never returns")
    }
}

fn main() {
    let mut s = S::new();
    s.by_mut(1);
    *s.first_mut() += 1;
    let _ = (s.by_ref(), s.provided(), s.default_method(2), s.parse("7"), s.io());
    let _ = s.by_value();
    let _ = (free(1, "a"), skipping(1, 2), borrowed("ab", 1), elided(" a "), opaque(1));
    with_options(vec![1], "pw".into());
    let _ = generic::<u8, String>(1, &String::new());
    let _ = impl_arg(1, |x| x + 1);
    let _ = patterns((1, 2), [3, 4], 5);
    let _ = unsafe { raw(&1) };
    let _ = c_abi(1);
    let _ = r#match(1);
    let _ = S::diverges;
}
