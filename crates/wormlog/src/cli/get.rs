//! `wormlog get`: one event's content, exactly as appended: the JSON data of a JSON event, or
//! the original bytes of a document (its attachment read in ranges), checked against the size
//! and SHA-256 its event records.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use wormlog::reader::EventKey;
use wormlog::{LogReader, ReadError};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["seq", "id"]))]
pub(crate) struct GetArgs {
    /// The event, by seq.
    #[arg(long, value_name = "N")]
    seq: Option<u64>,

    /// The event, by id (the log is scanned: ids are not indexed).
    #[arg(long, value_name = "UUID")]
    id: Option<uuid::Uuid>,

    /// Write the content to this file (replaced only once it is read whole and checked);
    /// default: stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(crate) async fn run(ctx: &Context, args: GetArgs) -> CliResult<()> {
    let key = match (args.seq, args.id) {
        (Some(seq), _) => EventKey::Seq(seq),
        (None, Some(id)) => EventKey::Id(id),
        (None, None) => unreachable!("clap requires --seq or --id"),
    };
    let reader = LogReader::new(
        Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
    )?;
    let Some((event, slot)) = reader.find(key).await? else {
        return Err(CliError::usage(format!(
            "stream {} has no event with {}",
            ctx.stream,
            match key {
                EventKey::Seq(s) => format!("seq {s}"),
                EventKey::Id(id) => format!("id {id}"),
            }
        )));
    };
    match &args.output {
        None => {
            let mut out = std::io::stdout().lock();
            match reader.copy_content(&event, &mut out).await {
                // A closed pipe (`| head`) is not an error.
                Err(ReadError::Output(e)) if e.contains("Broken pipe") => return Ok(()),
                other => other?,
            };
            let _ = out.flush();
        }
        Some(path) => write_file(&reader, &event, path).await?,
    }
    eprintln!("wormlog: seq {} (slot {slot}) read and checked", event.seq);
    Ok(())
}

/// Writes to a temporary file beside `path`, renamed over it only once the content is whole
/// and matches its event: a failed `get` leaves no partial document under that name.
async fn write_file(
    reader: &LogReader,
    event: &wormlog::Event,
    path: &std::path::Path,
) -> CliResult<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let cannot = |e: std::io::Error| {
        CliError::usage(format!(
            "cannot write {} ({e}); nothing was written",
            path.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cannot)?;
    reader.copy_content(event, tmp.as_file_mut()).await?;
    tmp.as_file_mut().sync_all().map_err(cannot)?;
    tmp.persist(path).map_err(|e| cannot(e.error))?;
    Ok(())
}
