#[raceway::traced(err)]
fn log(line: &str) {
    let _ = line;
}

#[raceway::traced(err)]
fn opaque() -> impl std::fmt::Debug {
    1
}

fn main() {
    log("x");
    let _ = opaque();
}
