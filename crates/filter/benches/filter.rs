//! Benchmarks of cwlogs-filter (written next).

fn main() {}
