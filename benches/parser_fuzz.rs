//! The mission parser under 100,000 mutated files (more with `-- <cases>`): no panic, no case
//! over a second, every rewrite parses. `cargo bench --bench parser_fuzz [-- cases [first]]`.

#[path = "../tests/fuzz/mod.rs"]
mod fuzz;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let cases: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let first: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let started = std::time::Instant::now();
    let r = fuzz::run(first, cases, std::time::Duration::from_secs(1));
    println!(
        "parser fuzz: {} cases ({} parsed) in {:.1} s, slowest {:?}, {} failures",
        r.cases,
        r.parsed,
        started.elapsed().as_secs_f64(),
        r.slowest,
        r.failures.len()
    );
    for f in r.failures.iter().take(20) {
        println!("  {f}");
    }
    if !r.failures.is_empty() {
        std::process::exit(1);
    }
}
