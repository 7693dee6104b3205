//! The docs show what the code does: the example segment in docs/format.md decodes.

use wormlog_format::{decode_segment, SegmentKind};

#[test]
fn the_example_segment_in_format_md_decodes() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).unwrap();
    let start = doc.find("<!-- example-segment:start -->").unwrap();
    let block = &doc[start..];
    let body_start = block.find("```jsonl\n").unwrap() + "```jsonl\n".len();
    let body_end = body_start + block[body_start..].find("\n```").unwrap() + 1;
    let segment = decode_segment(&block.as_bytes()[body_start..body_end])
        .expect("the documented segment is valid");
    assert_eq!(segment.header.kind, SegmentKind::Events);
    assert_eq!(segment.events.len() as u64, segment.header.count);
    assert_eq!(
        segment.events[0].meta.fencing_token.epoch,
        segment.header.epoch
    );
}
