//! Placeholder until the coord benchmark client lands (see scripts/bench/).
fn main() {}
