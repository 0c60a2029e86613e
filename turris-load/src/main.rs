//! `turris-load`: drives the reference server through its public HTTP API. Not built yet
//! (issue 8); it exits with an error until then.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("turris-load is not built yet");
    std::process::exit(2);
}
