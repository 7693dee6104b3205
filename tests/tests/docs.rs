//! The docs show what the code does: the example segments in docs/format.md decode.

use wormlog_format::{decode_segment, Segment, SegmentKind};

/// Decodes the `jsonl` block after `marker` in docs/format.md.
fn documented(marker: &str) -> Segment {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).unwrap();
    let start = doc.find(marker).unwrap();
    let block = &doc[start..];
    let body_start = block.find("```jsonl\n").unwrap() + "```jsonl\n".len();
    let body_end = body_start + block[body_start..].find("\n```").unwrap() + 1;
    decode_segment(&block.as_bytes()[body_start..body_end])
        .unwrap_or_else(|e| panic!("the segment after {marker} is not valid: {e}"))
}

#[test]
fn the_example_segment_in_format_md_decodes() {
    let segment = documented("<!-- example-segment:start -->");
    assert_eq!(segment.header.kind, SegmentKind::Events);
    assert_eq!(segment.events.len() as u64, segment.header.count);
    assert_eq!(
        segment.events[0].meta.fencing_token.epoch,
        segment.header.epoch
    );
}

#[test]
fn the_example_purge_record_in_format_md_decodes() {
    let segment = documented("<!-- example-purge:start -->");
    assert_eq!(segment.header.kind, SegmentKind::Purge);
    let record = segment.purge.expect("a purge record");
    assert_eq!(record.purged[0].slot, 1);
}

#[test]
fn the_example_documents_segment_in_format_md_decodes() {
    let segment = documented("<!-- example-documents:start -->");
    let payloads: Vec<_> = segment
        .events
        .iter()
        .map(|e| e.payload.clone().expect("raw payloads"))
        .collect();
    assert_eq!(payloads.len(), 2);
    assert!(payloads[0].base64.is_some(), "the small one is inline");
    assert_eq!(
        payloads[1].attachment.as_deref(),
        Some(format!("attachments/{}", payloads[1].sha256).as_str())
    );
}
