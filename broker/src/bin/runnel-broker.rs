//! `runnel-broker` (being written: see the broker issue).
fn main() {
    eprintln!("runnel-broker: not built yet (see the broker issue)");
    std::process::exit(2);
}
