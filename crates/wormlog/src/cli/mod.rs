//! Command-line parsing (clap) and the mapping of every failure to its exit code.

/// `println!` for the commands' output: a closed pipe ends the command quietly
/// (`output::line`).
macro_rules! out {
    () => {
        $crate::cli::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}

mod append;
mod bench;
mod bench_cold;
mod cat;
mod demo;
mod doctor;
mod documents;
mod exit;
mod get;
mod init;
mod interrupt;
mod lease;
mod lock;
mod output;
mod policy;
mod purge;
mod streams;
mod tail_cache;
mod tlog;
mod verify;
mod writer_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wormlog::{open_store, OpenedStore, DEFAULT_STORE};

pub(crate) use exit::{CliError, CliResult};

/// wormlog: an append-only event log on object storage that a stale leader cannot corrupt.
///
/// Every log object is created once with If-None-Match: *; every writer carries a fencing
/// token (an epoch); a stale leader's write is refused with 412 and it stops.
///
/// Exit codes: 0 ok; 1 a corrupt or missing segment; 2 bad usage or input; 3 fenced;
/// 4 store error.
#[derive(Parser, Debug)]
#[command(name = "wormlog", version, max_term_width = 100)]
pub(crate) struct Cli {
    /// The store: a directory path, file:///abs/path, mem://, or
    /// s3://bucket/prefix?endpoint=URL&region=R&path_style=true.
    #[arg(long, global = true, env = "WORMLOG_STORE", default_value = DEFAULT_STORE)]
    store: String,

    /// The stream: parts of 1-128 of A-Z a-z 0-9 . _ - separated by /, such as orders or
    /// evidence/acme/2026/11.
    #[arg(long, global = true, env = "WORMLOG_STREAM", default_value = "default")]
    stream: String,

    /// Serve Prometheus metrics (appends, segments, 412s by resolution, retries, store errors,
    /// PUT and append latency, lease holder and epoch) at http://ADDR/metrics while the
    /// command runs: for long-running ones (append --streaming, cat --follow, bench).
    #[arg(long, global = true, value_name = "ADDR", env = "WORMLOG_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,

    /// Log lines on stderr as text or as JSON objects (the level comes from WORMLOG_LOG,
    /// such as debug for wormlog's own debug lines).
    #[arg(long, global = true, env = "WORMLOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the store (a directory or a bucket) and optionally turn on Object Lock retention.
    Init(init::InitArgs),
    /// Prove the store enforces what safety rests on (create-only, If-Match); a table.
    Doctor(doctor::DoctorArgs),
    /// Append events (DATA arguments or JSON lines on stdin); prints "seq id" per event.
    Append(append::AppendArgs),
    /// The stream's leader lease: status, acquire (prints the epoch), release.
    Lease(lease::LeaseArgs),
    /// Print events as JSON lines, in seq order (documents as their metadata, never bytes).
    Cat(cat::CatArgs),
    /// Write one event's content exactly as appended (a document's original bytes, checked
    /// against its SHA-256), to stdout or -o FILE.
    Get(get::GetArgs),
    /// List the streams in the store (or under --prefix).
    Streams(streams::StreamsArgs),
    /// Audit the whole stream: gaps, corruption, zombies, duplicates, the epoch timeline, and
    /// with --require-lock every segment's Object Lock; exit 1 on any violation.
    Verify(verify::VerifyArgs),
    /// Legal hold on segments: set or clear, by --slot or --from-seq/--to-seq (default: all).
    Hold(lock::HoldArgs),
    /// Extend segments' retention (never shortening it).
    Retention(lock::RetentionArgs),
    /// Delete segments under GOVERNANCE retention (--bypass-governance), after recording who,
    /// why and which slots in the log; verify reports such purges as documented.
    Purge(purge::PurgeArgs),
    /// Print AWS policies for the stream prefix: the bucket policy, or --iam (writer), or
    /// --lifecycle (cleanup only after retention).
    Policy(policy::PolicyArgs),
    /// Append throughput and latency on this store: events/s, MB/s, p50/p99/p999.
    Bench(bench::BenchArgs),
    /// Two leaders on one stream: the stale one is fenced with a 412; the replay is consistent.
    Demo(demo::DemoArgs),
    /// Write an Ed25519 key pair for checkpoints: PATH (secret) and PATH.pub (for auditors).
    Keygen(tlog::KeygenArgs),
    /// Write a signed checkpoint of the log's Merkle tree as it stands (and its tiles).
    Checkpoint(tlog::CheckpointArgs),
    /// Print an inclusion proof (--seq) or a consistency proof (--consistency) as JSON.
    Prove(tlog::ProveArgs),
    /// Check a proof from `prove` offline, given the verifier key; exit 1 if it fails.
    VerifyProof(tlog::VerifyProofArgs),
}

impl Command {
    /// Commands that only make sense on a store that exists: on a directory that does not,
    /// they say so (exit 2) instead of reporting an empty log.
    fn reads_an_existing_store(&self) -> bool {
        matches!(
            self,
            Command::Doctor(_)
                | Command::Cat(_)
                | Command::Get(_)
                | Command::Streams(_)
                | Command::Verify(_)
                | Command::Hold(_)
                | Command::Retention(_)
                | Command::Purge(_)
                | Command::Checkpoint(_)
                | Command::Prove(_)
        )
    }
}

pub(crate) struct Context {
    pub store: OpenedStore,
    pub store_url: String,
    pub stream: String,
    /// Whether --stream or WORMLOG_STREAM named the stream (the demo otherwise picks its own).
    pub stream_given: bool,
}

pub(crate) fn main() -> ExitCode {
    let stream_given = std::env::args().any(|a| a == "--stream" || a.starts_with("--stream="))
        || std::env::var_os("WORMLOG_STREAM").is_some();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            return CliError::store(format!("could not start the async runtime: {e}")).report()
        }
    };
    match runtime.block_on(run(cli, stream_given)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => e.report(),
    }
}

/// Installs the Prometheus exporter: an HTTP listener at `addr` that renders every metric
/// the library records through the `metrics` facade.
fn serve_metrics(addr: std::net::SocketAddr) -> CliResult<()> {
    // Latencies as Prometheus histograms (buckets add up across processes; quantiles don't).
    const SECONDS: &[f64] = &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(SECONDS)
        .map_err(|e| CliError::usage(format!("the metrics buckets are invalid ({e})")))?
        .install()
        .map_err(|e| {
            CliError::usage(format!(
                "cannot serve metrics at {addr} ({e}); pick a free port, such as --metrics-addr 127.0.0.1:9464"
            ))
        })
}

async fn run(cli: Cli, stream_given: bool) -> CliResult<()> {
    if let Some(addr) = cli.metrics_addr {
        serve_metrics(addr)?;
    }
    // The commands that touch no store.
    let command = match cli.command {
        Command::Keygen(args) => return tlog::keygen(args).await,
        Command::VerifyProof(args) => return tlog::verify_proof(args),
        command => command,
    };
    wormlog::format::validate_stream_name(&cli.stream)
        .map_err(|e| CliError::usage(format!("{e}; choose another --stream")))?;
    let store = open_store(&cli.store)
        .await
        .map_err(|e| CliError::usage(e.to_string()))?;
    if command.reads_an_existing_store() {
        if let Some(dir) = store.directory.as_deref().filter(|d| !d.exists()) {
            return Err(CliError::usage(format!(
                "there is no store at {}; check --store, or create one with `wormlog init`",
                dir.display()
            )));
        }
    }
    let ctx = Context {
        store,
        store_url: cli.store,
        stream: cli.stream,
        stream_given,
    };
    match command {
        Command::Init(args) => init::run(&ctx, args).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Append(args) => append::run(&ctx, args).await,
        Command::Cat(args) => cat::run(&ctx, args).await,
        Command::Get(args) => get::run(&ctx, args).await,
        Command::Streams(args) => streams::run(&ctx, args).await,
        Command::Lease(args) => lease::run(&ctx, args).await,
        Command::Verify(args) => verify::run(&ctx, args).await,
        Command::Policy(args) => policy::run(&ctx, args).await,
        Command::Bench(args) => bench::run(&ctx, args).await,
        Command::Hold(args) => lock::hold(&ctx, args).await,
        Command::Retention(args) => lock::retention(&ctx, args).await,
        Command::Purge(args) => purge::run(&ctx, args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Checkpoint(args) => tlog::checkpoint(&ctx, args).await,
        Command::Prove(args) => tlog::prove(&ctx, args).await,
        Command::Keygen(_) | Command::VerifyProof(_) => unreachable!("run without a store above"),
    }
}

/// Diagnostics go to stderr; `WORMLOG_LOG` sets the filter (default: warnings).
/// The crates whose lines `WORMLOG_LOG=<level>` turns on; everything else (the AWS SDK,
/// hyper) stays at warnings unless named in a full filter such as `debug,aws_smithy=trace`.
const OWN_CRATES: &[&str] = &[
    "wormlog",
    "wormlog_store",
    "wormlog_s3",
    "wormlog_format",
    "wormlog_fencing",
    "wormlog_writer",
    "wormlog_reader",
    "wormlog_tlog",
];

/// `WORMLOG_LOG` as a filter: a bare level means wormlog's own lines at that level.
fn log_filter(value: Option<&str>) -> String {
    match value.map(str::trim) {
        None | Some("") => "warn".to_owned(),
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error" | "off")) => {
            let own: Vec<String> = OWN_CRATES.iter().map(|c| format!("{c}={level}")).collect();
            format!("warn,{}", own.join(","))
        }
        Some(filter) => filter.to_owned(),
    }
}

/// Logs go to stderr: colours only on a terminal; `--log-format json` for log shippers.
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(
        std::env::var("WORMLOG_LOG").ok().as_deref(),
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn a_bare_level_means_wormlogs_own_lines() {
        assert_eq!(log_filter(None), "warn");
        let debug = log_filter(Some("debug"));
        assert!(debug.starts_with("warn,") && debug.contains("wormlog_writer=debug"));
        assert!(!debug.contains("aws"));
        assert_eq!(
            log_filter(Some("info,aws_smithy=trace")),
            "info,aws_smithy=trace"
        );
    }
}
