//! The `wormlog` command. Contract (architecture.md): exit 0 ok; 1 verification found a
//! violation (a corrupt or missing segment); 2 bad usage or bad input; 3 fenced; 4 store error.
//! Errors go to stderr as one sentence naming what failed and what to do.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
