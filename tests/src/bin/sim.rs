//! `sim SEEDS` runs seeds 1..=SEEDS of the deterministic simulation and checks each;
//! `sim --seed N` replays seed N and prints its history. Used by scripts/sim.sh.
//! Exit 0 when every seed passes; 1 naming the first failing seed; 2 on bad usage.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use wormlog_tests::sim::{check, run, SimConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (seeds, verbose): (Vec<u64>, bool) = match args.as_slice() {
        [flag, n] if flag == "--seed" => match n.parse() {
            Ok(n) => (vec![n], true),
            Err(_) => return usage(&format!("--seed takes a number, not {n:?}")),
        },
        [n] => match n.parse::<u64>() {
            Ok(n) if n > 0 => ((1..=n).collect(), false),
            _ => return usage(&format!("SEEDS must be a positive number, not {n:?}")),
        },
        [] => ((1..=100).collect(), false),
        _ => return usage("too many arguments"),
    };
    #[allow(clippy::disallowed_methods)] // wall time of the whole run, for the summary only
    let started = Instant::now();
    let mut passed = 0;
    for &seed in &seeds {
        let sim = run(&SimConfig::new(seed));
        let violations = check(&sim);
        if verbose {
            for e in &sim.history.entries {
                let done = e
                    .completed_ms
                    .map_or("never".to_owned(), |t| format!("{t} ms"));
                say(&format!(
                    "{} epoch {} op {}: invoked {} ms, completed {done}: {:?}",
                    e.writer, e.epoch, e.op, e.invoked_ms, e.outcome
                ));
            }
            for (w, at) in &sim.history.fenced_at {
                say(&format!("{w} fenced at journal entry {at}"));
            }
        }
        if !violations.is_empty() {
            eprintln!("sim: seed {seed} FAILED:");
            for v in &violations {
                eprintln!("  - {v}");
            }
            eprintln!("sim: {passed} of {} seeds passed before seed {seed}; replay it with scripts/sim.sh --seed {seed}", seeds.len());
            return ExitCode::from(1);
        }
        passed += 1;
    }
    say(&format!(
        "sim: {passed} of {} seeds passed in {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    ));
    ExitCode::SUCCESS
}

/// One line on stdout; a closed pipe (`| head`) is not an error.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn usage(why: &str) -> ExitCode {
    eprintln!("sim: {why}; usage: sim [SEEDS] | sim --seed N");
    ExitCode::from(2)
}
