#[raceway::test]
#[test]
fn tested_twice() {}

#[raceway::test]
fn takes_arguments(n: u32) {
    let _ = n;
}

#[raceway::test(expect_race = "", allow = "race:")]
fn empty_patterns() {}

#[raceway::test]
struct NotAFunction;

fn main() {}
