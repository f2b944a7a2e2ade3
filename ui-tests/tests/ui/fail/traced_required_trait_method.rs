trait Repo {
    #[raceway::traced]
    fn load(&self, id: u32) -> u32;
}

fn main() {}
