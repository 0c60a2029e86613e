//! The `turris-server` binary. Not built yet: see the open issues.

fn main() {
    eprintln!("turris-server is not built yet");
    std::process::exit(2);
}
