//! The deterministic simulation from the command line (scripts/sim.sh):
//!
//! ```text
//! sim [SEEDS] [--profile NAME|all]   seeds 1..=SEEDS (default 300) of a profile (default: default)
//! sim --seed N [--profile NAME]      replays seed N exactly and prints its history
//! sim --profiles                     lists the profiles
//! ```
//!
//! Prints "sim: PROFILE: N of M seeds passed in T s" per profile. Exit 0 when every seed
//! passes; 1 naming the first failing seed and profile; 2 on bad usage.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use wormlog_sim::{check, run, Profile, SimConfig, Tally};

struct Args {
    seeds: Vec<u64>,
    profiles: Vec<Profile>,
    verbose: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        seeds: (1..=300).collect(),
        profiles: vec![Profile::Default],
        verbose: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                let n = it.next().ok_or("--seed takes a number")?;
                let n = n
                    .parse()
                    .map_err(|_| format!("--seed takes a number, not {n:?}"))?;
                (out.seeds, out.verbose) = (vec![n], true);
            }
            "--profile" => {
                let p = it.next().ok_or("--profile takes a name")?;
                out.profiles = match p.as_str() {
                    "all" => Profile::ALL.to_vec(),
                    name => vec![Profile::parse(name).ok_or_else(|| {
                        format!("unknown profile {name:?}; `sim --profiles` lists them")
                    })?],
                };
            }
            n => match n.parse::<u64>() {
                Ok(n) if n > 0 => out.seeds = (1..=n).collect(),
                _ => return Err(format!("SEEDS must be a positive number, not {n:?}")),
            },
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--profiles") {
        for p in Profile::ALL {
            say(p.name());
        }
        return ExitCode::SUCCESS;
    }
    let args = match parse(&args) {
        Ok(a) => a,
        Err(why) => {
            eprintln!("sim: {why}; usage: sim [SEEDS] [--profile NAME|all] | sim --seed N [--profile NAME]");
            return ExitCode::from(2);
        }
    };
    for profile in args.profiles {
        #[allow(clippy::disallowed_methods)] // wall time of the whole run, for the summary only
        let started = Instant::now();
        let mut passed = 0;
        let mut tally = Tally::default();
        for &seed in &args.seeds {
            let sim = run(&SimConfig::new(seed, profile));
            tally.add(&sim);
            if args.verbose {
                print_history(&sim);
            }
            let violations = check(&sim);
            if !violations.is_empty() {
                eprintln!("sim: {}: seed {seed} FAILED:", profile.name());
                for v in &violations {
                    eprintln!("  - {v}");
                }
                eprintln!(
                    "sim: {passed} of {} seeds passed before seed {seed}; replay it with scripts/sim.sh --seed {seed} --profile {}",
                    args.seeds.len(),
                    profile.name()
                );
                return ExitCode::from(1);
            }
            passed += 1;
        }
        say(&format!(
            "sim: {}: {passed} of {} seeds passed in {:.1} s ({tally})",
            profile.name(),
            args.seeds.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    ExitCode::SUCCESS
}

fn print_history(sim: &wormlog_sim::SimRun) {
    for e in &sim.history.entries {
        let done = e
            .completed_ms
            .map_or("never".to_owned(), |t| format!("{t} ms"));
        say(&format!(
            "{} epoch {} op {}: invoked {} ms, completed {done}: {:?}",
            e.writer, e.epoch, e.op, e.invoked_ms, e.outcome
        ));
    }
    for s in &sim.history.stops {
        say(&format!(
            "{} (epoch {}) stopped: {:?} at journal entry {}",
            s.writer, s.epoch, s.kind, s.journal_at
        ));
    }
    for p in &sim.history.purges {
        say(&format!(
            "purge of slot {}: outcome known {}",
            p.slot, p.known
        ));
    }
}

/// One line on stdout; a closed pipe (`| head`) is not an error.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
