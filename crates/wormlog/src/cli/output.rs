//! Standard output of every command. A closed pipe (`wormlog verify | head -1`) ends the
//! command quietly with [`PIPE_CLOSED`], as SIGPIPE ends other tools, instead of the panic
//! (exit 101) of `println!`; any other failure to write names itself.

use std::io::{ErrorKind, Write};

/// The exit status a shell shows for a process ended by SIGPIPE (128 + 13).
pub(crate) const PIPE_CLOSED: i32 = 141;

/// Writes one line to stdout (what `out!` expands to).
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    checked(
        out.write_fmt(args)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush()),
    );
}

/// Ends the command if a write to stdout failed: quietly for a closed pipe.
pub(crate) fn checked(result: std::io::Result<()>) {
    let Err(e) = result else { return };
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(PIPE_CLOSED);
    }
    eprintln!("wormlog: writing the output failed ({e}); check where stdout goes");
    std::process::exit(i32::from(super::exit::USAGE));
}
