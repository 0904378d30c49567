//! `runnel`, the operator's command line (being written: see the broker issue).
fn main() {
    eprintln!("runnel: not built yet (see the broker issue)");
    std::process::exit(2);
}
