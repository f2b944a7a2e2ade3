// A type error in the body points at the user's code, not at generated code.
#[raceway::traced]
fn total(values: &[u32]) -> u32 {
    values.len()
}

#[raceway::traced(ret)]
async fn name(id: u32) -> String {
    id
}

fn main() {
    let _ = total(&[1]);
    let _ = name(1);
}
