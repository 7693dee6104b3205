//! The tamper-evidence commands: `keygen`, `checkpoint`, `prove`, `verify-proof`, and the
//! key loading `verify --key` shares (docs/protocol.md, "Checkpoints and proofs").
//!
//! Keys come from a file or, for the signing key, from `WORMLOG_CHECKPOINT_KEY`; they are
//! never printed or logged (a signing key's `Debug` shows its name only).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use wormlog::reader::tlog;
use wormlog_store::{Clock as _, PutOptions};
use wormlog_tlog::{Signer, Verifier};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct KeygenArgs {
    /// The key's name, which every signature line carries (such as example.com/invoices).
    #[arg(long, value_name = "NAME")]
    name: String,

    /// Where to write the signing key (PATH, readable by its owner only) and the verifier
    /// key (PATH.pub, for auditors). Neither may exist yet.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

pub(crate) async fn keygen(args: KeygenArgs) -> CliResult<()> {
    let signer = Signer::generate(&args.name)
        .map_err(|e| CliError::usage(format!("{e}; choose another --name")))?;
    let public = PathBuf::from(format!("{}.pub", args.out.display()));
    for path in [&args.out, &public] {
        if path.exists() {
            return Err(CliError::usage(format!(
                "{} exists already; keygen never overwrites a key, so choose another --out",
                path.display()
            )));
        }
    }
    write_private(&args.out, &format!("{}\n", signer.encode()))?;
    std::fs::write(&public, format!("{}\n", signer.verifier().encode())).map_err(|e| {
        let _ = std::fs::remove_file(&args.out);
        CliError::usage(format!(
            "cannot write {} ({e}); check the directory",
            public.display()
        ))
    })?;
    out!("{}", signer.verifier().encode());
    eprintln!(
        "wrote the signing key to {} (keep it secret) and the verifier key to {} (give it to auditors)",
        args.out.display(),
        public.display()
    );
    Ok(())
}

/// Creates `path` with `text`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> CliResult<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        CliError::usage(format!(
            "cannot create {} ({e}); check the directory",
            path.display()
        ))
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| CliError::usage(format!("cannot write {} ({e})", path.display())))
}

/// The signing key: from `--key FILE`, else from `WORMLOG_CHECKPOINT_KEY` (the key's text).
/// The signing key in the file `path` (given as `flag`), or in WORMLOG_CHECKPOINT_KEY.
pub(crate) fn signer(path: Option<&Path>, flag: &str) -> CliResult<Signer> {
    let (text, from) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| {
                CliError::usage(format!("cannot read the signing key {} ({e}); check {flag}", p.display()))
            })?,
            p.display().to_string(),
        ),
        None => match std::env::var("WORMLOG_CHECKPOINT_KEY") {
            Ok(text) => (text, "WORMLOG_CHECKPOINT_KEY".to_owned()),
            Err(_) => {
                return Err(CliError::usage(
                    format!("no signing key: pass {flag} FILE (from `wormlog keygen`) or set WORMLOG_CHECKPOINT_KEY"),
                ))
            }
        },
    };
    Signer::parse(&text)
        .map_err(|e| CliError::usage(format!("{from}: {e}; write one with `wormlog keygen`")))
}

/// A verifier key: the text of `key`, or the file it names.
pub(crate) fn verifier(key: &str) -> CliResult<Verifier> {
    // Key text given inline is never echoed: it may be a signing key passed by mistake.
    let (text, named) = match std::fs::read_to_string(key) {
        Ok(text) => (text, format!("the verifier key {key}")),
        Err(_) if key.contains('+') => (key.to_owned(), "the verifier key given".to_owned()),
        Err(e) => {
            return Err(CliError::usage(format!(
                "cannot read the verifier key {key} ({e}); pass the .pub file from `wormlog keygen` or the key itself"
            )))
        }
    };
    Verifier::parse(&text).map_err(|e| {
        CliError::usage(format!(
            "{named} is not a verifier key ({e}); pass the .pub file from `wormlog keygen`"
        ))
    })
}

#[derive(Args, Debug)]
pub(crate) struct CheckpointArgs {
    /// The signing key file (from `wormlog keygen`); default: the key in
    /// WORMLOG_CHECKPOINT_KEY.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,

    /// The checkpoint's and its tiles' Object Lock (use the segments').
    #[command(flatten)]
    lock: super::writer_args::LockArgs,

    /// After a key rotation: the verifier key (file or text) of a key the signing key
    /// replaced; newer checkpoints of it are passed over. Repeatable.
    #[arg(long, value_name = "PUB")]
    rotated_from: Vec<String>,
}

pub(crate) async fn checkpoint(ctx: &Context, args: CheckpointArgs) -> CliResult<()> {
    let signer = signer(args.key.as_deref(), "--key")?;
    let lock = wormlog_writer::LockPolicy::request(
        args.lock.policy(),
        args.lock.legal_hold,
        wormlog_store::SystemClock::new().now(),
    );
    let opts = PutOptions {
        lock,
        ..PutOptions::default()
    };
    let previous = args
        .rotated_from
        .iter()
        .map(|k| verifier(k))
        .collect::<CliResult<Vec<_>>>()?;
    let store = Arc::clone(&ctx.store.store);
    let root_prefix = &ctx.store.root_prefix;
    let written =
        tlog::write_checkpoint_rotated(store, root_prefix, &ctx.stream, &signer, &previous, &opts);
    match written.await? {
        Some((cp, _)) => {
            out!(
                "checkpoint {} of stream {}: root {}, up to slot {}, signed by {}",
                cp.size,
                ctx.stream,
                wormlog_format::hex_of(&cp.root),
                cp.slot.map_or("-".to_owned(), |s| s.to_string()),
                signer.name()
            );
        }
        None => out!(
            "stream {} has no events past its latest checkpoint: nothing written",
            ctx.stream
        ),
    }
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["seq", "consistency"])))]
pub(crate) struct ProveArgs {
    /// Prove that the event with this seq is in the log: an inclusion proof.
    #[arg(long, value_name = "N")]
    seq: Option<u64>,

    /// With --seq: against the checkpoint of this tree size (default: the latest).
    #[arg(long, value_name = "SIZE", requires = "seq")]
    checkpoint: Option<u64>,

    /// Prove that the checkpoint of size OLD is a prefix of the one of size NEW.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    consistency: Option<Vec<u64>>,
}

pub(crate) async fn prove(ctx: &Context, args: ProveArgs) -> CliResult<()> {
    let store = Arc::clone(&ctx.store.store);
    let json = match (args.seq, args.consistency.as_deref()) {
        (Some(seq), _) => {
            let p = tlog::prove_inclusion(
                store,
                &ctx.store.root_prefix,
                &ctx.stream,
                seq,
                args.checkpoint,
            )
            .await?;
            serde_json::to_string_pretty(&p)
        }
        (None, Some([old, new])) => {
            let p = tlog::prove_consistency(store, &ctx.store.root_prefix, &ctx.stream, *old, *new)
                .await?;
            serde_json::to_string_pretty(&p)
        }
        _ => return Err(CliError::usage("give --seq N or --consistency OLD NEW")),
    };
    out!("{}", json.expect("proofs serialise"));
    Ok(())
}

#[derive(Args, Debug)]
pub(crate) struct VerifyProofArgs {
    /// The verifier key: the .pub file from `wormlog keygen`, or the key itself.
    #[arg(long, value_name = "PUB")]
    key: String,

    /// The proof printed by `wormlog prove` (default: standard input).
    #[arg(value_name = "FILE")]
    proof: Option<PathBuf>,
}

/// Checks a proof offline: no store is opened.
pub(crate) fn verify_proof(args: VerifyProofArgs) -> CliResult<()> {
    let verifier = verifier(&args.key)?;
    let json = match &args.proof {
        Some(p) if p.as_os_str() != "-" => std::fs::read_to_string(p)
            .map_err(|e| CliError::usage(format!("cannot read the proof {} ({e})", p.display())))?,
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                CliError::usage(format!("cannot read the proof from standard input ({e})"))
            })?;
            s
        }
    };
    let proved = tlog::verify_proof(&json, &verifier)?;
    out!("verified: {proved}");
    Ok(())
}
