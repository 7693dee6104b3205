//! Ctrl-C and SIGTERM during a long command. The first signal asks the command to stop: an
//! append stops taking input, waits for what is in flight, prints the ack of every event
//! that committed and says how many committed, how many are unknown and how many were never
//! sent, then exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once: whatever
//! is in flight then has an unknown outcome (a create-only write that lands is still valid).

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The signal that asked the command to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// 128 + the signal number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT (Ctrl-C)",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Listens for SIGINT and SIGTERM from its creation on; clones share what it hears.
#[derive(Clone)]
pub(crate) struct Interrupt {
    rx: watch::Receiver<Option<Signal>>,
}

impl Interrupt {
    pub fn listen() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        let (mut int, mut term) = (
            signal(SignalKind::interrupt()).expect("SIGINT can be handled"),
            signal(SignalKind::terminate()).expect("SIGTERM can be handled"),
        );
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let got = tokio::select! {
                    _ = int.recv() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                };
                if !first {
                    eprintln!(
                        "wormlog: {} again: exiting at once; appends in flight have an unknown outcome (run `wormlog cat` to see what committed)",
                        got.name()
                    );
                    std::process::exit(i32::from(got.exit_code()));
                }
                first = false;
                let _ = tx.send(Some(got));
            }
        });
        Interrupt { rx }
    }

    /// The signal received so far, if any.
    pub fn received(&self) -> Option<Signal> {
        *self.rx.borrow()
    }

    /// Waits for a signal.
    pub async fn wait(&mut self) -> Signal {
        loop {
            if let Some(s) = *self.rx.borrow_and_update() {
                return s;
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// What an interrupted append did, for its last sentence.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub committed: u64,
    pub unknown: u64,
    pub not_sent: u64,
}

impl Tally {
    /// The error an interrupted append ends with: its exit code is the signal's.
    pub fn interrupted(&self, by: Signal) -> super::CliError {
        super::CliError {
            code: by.exit_code(),
            message: format!(
                "interrupted by {}: {} events committed (their acks are above), {} with an unknown outcome, {} not appended",
                by.name(),
                self.committed,
                self.unknown,
                self.not_sent
            ),
        }
    }
}
