//! `wormlog streams`: the streams in the store (or under a part of their names), found by
//! listing folders: a folder holding `log/` is a stream.

use clap::Args;
use wormlog_format::RESERVED_PARTS;

use super::{CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct StreamsArgs {
    /// Only streams whose names start with these parts, such as `evidence/acme`.
    #[arg(long, value_name = "P")]
    prefix: Option<String>,
}

pub(crate) async fn run(ctx: &Context, args: StreamsArgs) -> CliResult<()> {
    let root = match ctx.store.root_prefix.trim_matches('/') {
        "" => String::new(),
        r => format!("{r}/"),
    };
    let start = match args.prefix.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => root.clone(),
        Some(p) => format!("{root}{p}/"),
    };
    let mut queue = vec![start];
    let mut streams = Vec::new();
    while let Some(folder) = queue.pop() {
        let children = ctx.store.store.list_folders(&folder).await?;
        if folder != root && children.iter().any(|c| *c == format!("{folder}log/")) {
            streams.push(folder[root.len()..folder.len() - 1].to_owned());
        }
        for child in children {
            let name = child[folder.len()..].trim_end_matches('/');
            // Below the top, reserved names are a stream's own folders (`log/`), never a
            // stream name's part; a first part may be one.
            let own = folder != root && RESERVED_PARTS.contains(&name);
            if !own && !name.starts_with('.') {
                queue.push(child);
            }
        }
    }
    streams.sort();
    if streams.is_empty() {
        eprintln!("wormlog: no streams in {}", ctx.store.store.describe());
    }
    for s in streams {
        out!("{s}");
    }
    Ok(())
}
