//! Documents (docs/format.md, "Raw payloads"): JSON kept token for token, raw bytes inline or
//! as attachments with a server-verified SHA-256, got back byte for byte, and audited by
//! `verify`. Each scenario runs on every store.

use std::sync::Arc;

use bytes::Bytes;
use sha2::Digest;
use wormlog_format::StreamKeys;
use wormlog_reader::{verify, EventKey, Finding, LogReader};
use wormlog_store::{DeleteOptions, ObjectStore, PutOptions};
use wormlog_tests::{on_every_store, writer_config};
use wormlog_writer::{LogWriter, PART_SIZE};

const S: &str = "docs/acme/2026";

async fn writer(store: &Arc<dyn ObjectStore>) -> LogWriter {
    LogWriter::open(Arc::clone(store), writer_config(S, 1, "uploader"))
        .await
        .unwrap()
}

fn reader(store: &Arc<dyn ObjectStore>) -> LogReader {
    LogReader::new(Arc::clone(store), "", S).unwrap()
}

/// The content of the event at `seq`, read back and checked.
async fn content(store: &Arc<dyn ObjectStore>, seq: u64) -> Vec<u8> {
    let r = reader(store);
    let (event, _) = r.find(EventKey::Seq(seq)).await.unwrap().unwrap();
    let mut out = Vec::new();
    r.copy_content(&event, &mut out).await.unwrap();
    out
}

/// A document of `n` bytes that is not all one byte.
fn document(n: usize, salt: u8) -> Bytes {
    Bytes::from(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
            .collect::<Vec<u8>>(),
    )
}

async fn attachments(store: &Arc<dyn ObjectStore>) -> usize {
    let keys = StreamKeys::new("", S).unwrap();
    wormlog_store::list_all(&**store, &keys.attachments_prefix(), None)
        .await
        .unwrap()
        .len()
}

/// A JSON value that spans lines is kept token for token: key order, duplicate keys, big
/// numbers, `-0`, `1E2` and escapes, only the whitespace between tokens removed.
async fn json_is_kept_token_for_token(store: Arc<dyn ObjectStore>) {
    let w = writer(&store).await;
    let given = "{\n  \"z\": 12345678901234567890123,\n  \"a\": [-0, 1E2, 1.50],\n  \"z\": \"dup \\u00e9 \\n\"\n}";
    w.append("bundle", given).await.unwrap();
    let stored = String::from_utf8(content(&store, 0).await).unwrap();
    assert_eq!(
        stored,
        "{\"z\":12345678901234567890123,\"a\":[-0,1E2,1.50],\"z\":\"dup \\u00e9 \\n\"}"
    );
}

/// Small raw payloads go inline (base64 in the event line) and come back byte for byte.
async fn a_small_document_goes_inline_and_comes_back_exactly(store: Arc<dyn ObjectStore>) {
    let w = writer(&store).await;
    let xml = Bytes::from_static(b"<?xml version=\"1.0\"?>\n<Invoice>\x00\xff</Invoice>");
    let ack = w
        .append_bytes("invoice", "application/xml", xml.clone())
        .await
        .unwrap();
    assert_eq!(content(&store, ack.seq).await, xml);
    let (e, _) = reader(&store)
        .find(EventKey::Id(ack.id))
        .await
        .unwrap()
        .unwrap();
    let p = e.payload.unwrap();
    assert!(p.base64.is_some() && p.attachment.is_none());
    assert_eq!(
        (p.bytes, p.content_type.as_str()),
        (xml.len() as u64, "application/xml")
    );
    assert_eq!(attachments(&store).await, 0);
}

/// A payload above `attach_above` is an attachment: stored first, once per document however
/// often it is appended, with its SHA-256 checked by the store; `verify` checks it.
async fn a_large_document_is_an_attachment_stored_once(store: Arc<dyn ObjectStore>) {
    let w = writer(&store).await;
    let doc = document(300 << 10, 7);
    let a = w
        .append_bytes("bundle", "application/pdf", doc.clone())
        .await
        .unwrap();
    let b = w
        .append_bytes("bundle", "application/pdf", doc.clone())
        .await
        .unwrap();
    assert_eq!(content(&store, a.seq).await, doc);
    assert_eq!(content(&store, b.seq).await, doc);
    assert_eq!(
        attachments(&store).await,
        1,
        "the same document is stored once"
    );
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.attachments, 1);
}

/// Appends the file of `doc` and checks it reads back whole and verifies clean; returns the
/// attachment's metadata.
async fn append_file_and_read_back(
    store: &Arc<dyn ObjectStore>,
    w: &LogWriter,
    doc: &Bytes,
) -> wormlog_store::ObjectMeta {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, doc).unwrap();
    let e = w
        .file_event("archive", "application/octet-stream", &path)
        .await
        .unwrap();
    let key = e.payload().unwrap().attachment.clone().unwrap();
    let ack = w.append_event(e).await.unwrap();
    let got = content(store, ack.seq).await;
    assert!(
        got == *doc,
        "{} bytes back, {} appended",
        got.len(),
        doc.len()
    );
    let report = verify(Arc::clone(store), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    let keys = StreamKeys::new("", S).unwrap();
    store.head(&keys.attachment(&key)).await.unwrap()
}

/// A file above the attachment threshold streams up in one PUT that carries its SHA-256,
/// which the store checks and keeps.
async fn a_file_streams_up_in_one_put(store: Arc<dyn ObjectStore>) {
    let w = writer(&store).await;
    let doc = document(3 << 20, 5);
    let meta = append_file_and_read_back(&store, &w, &doc).await;
    assert_eq!(meta.size, doc.len() as u64);
    let sha: String = sha2::Sha256::digest(&doc)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match meta.sha256 {
        Some(kept) => assert_eq!(kept, sha),
        // Ceph RGW 16.2 ignores the header (it checks the signed payload hash) and keeps no
        // checksum (docs/s3.md).
        None => assert!(store
            .describe()
            .contains(&wormlog_tests::servers::RGW.endpoint())),
    }
}

/// A file larger than `parts_above` goes up in parts, each part's SHA-256 checked.
async fn a_file_larger_than_parts_above_goes_up_in_parts(store: Arc<dyn ObjectStore>) {
    let mut cfg = writer_config(S, 1, "uploader");
    cfg.parts_above = 2 << 20;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let doc = document(2 * PART_SIZE as usize + (5 << 20), 3);
    let meta = append_file_and_read_back(&store, &w, &doc).await;
    assert_eq!(meta.size, doc.len() as u64);
}

/// `verify` names the event whose attachment is missing or changed, and lists an
/// attachment no event refers to (an upload whose segment never committed) apart.
async fn verify_audits_attachments(store: Arc<dyn ObjectStore>) {
    let w = writer(&store).await;
    let keep = w
        .append_bytes("a", "text/plain", document(300 << 10, 1))
        .await
        .unwrap();
    let gone = w
        .append_bytes("b", "text/plain", document(300 << 10, 2))
        .await
        .unwrap();
    let orphan = w
        .raw_event("c", "text/plain", document(300 << 10, 3))
        .await
        .unwrap(); // uploaded, never appended
    let keys = StreamKeys::new("", S).unwrap();
    let (e, _) = reader(&store)
        .find(EventKey::Seq(gone.seq))
        .await
        .unwrap()
        .unwrap();
    let key = keys.attachment(e.payload.unwrap().attachment.as_deref().unwrap());
    store.delete(&key, &DeleteOptions::default()).await.unwrap();
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert_eq!(
        report.findings,
        [Finding::AttachmentMissing {
            seq: gone.seq,
            key: key.clone()
        }]
    );
    let orphan_key = keys.attachment(orphan.payload().unwrap().attachment.as_deref().unwrap());
    assert_eq!(report.unreferenced_attachments, [orphan_key]);
    // Another document put where the deleted one was: changed, not just missing.
    store
        .put_if_absent(&key, document(300 << 10, 9), &PutOptions::default())
        .await
        .unwrap();
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(
        matches!(&report.findings[..], [Finding::AttachmentChanged { seq, error, .. }]
            if *seq == gone.seq && error == "its SHA-256 is not the one the event records"),
        "{:?}",
        report.findings
    );
    assert_eq!(content(&store, keep.seq).await.len(), 300 << 10);
}

/// With `one_per_segment`, every event gets its own segment (one lock per document).
async fn one_per_segment_gives_every_document_its_own_segment(store: Arc<dyn ObjectStore>) {
    let mut cfg = writer_config(S, 1, "w");
    cfg.one_per_segment = true;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let pending: Vec<_> = (0..5).map(|i| w.append("t", &i.to_string())).collect();
    let mut slots = Vec::new();
    for f in pending {
        slots.push(f.await.unwrap().slot);
    }
    slots.dedup();
    assert_eq!(slots.len(), 5, "{slots:?}");
}

on_every_store!(
    json_is_kept_token_for_token,
    a_small_document_goes_inline_and_comes_back_exactly,
    a_large_document_is_an_attachment_stored_once,
    a_file_streams_up_in_one_put,
    a_file_larger_than_parts_above_goes_up_in_parts,
    verify_audits_attachments,
    one_per_segment_gives_every_document_its_own_segment,
);

/// The rule that an attachment is stored before the segment that refers to it: when its
/// upload fails, the append fails and no event names it. With the rule switched off (the
/// planted bug), `verify` catches the event whose attachment is missing.
async fn append_with_failing_attachment_upload(
    bug: Option<wormlog_writer::PlantedBug>,
) -> (bool, wormlog_reader::VerifyReport) {
    use wormlog_store::{Fault, FaultStore, MemoryStore, Op, StoreError};
    let faults = Arc::new(FaultStore::new(Arc::new(MemoryStore::new())));
    let denied = StoreError::Permanent {
        op: "put_if_absent",
        key: "attachments".into(),
        message: "access denied".into(),
    };
    faults.inject(Fault::before(Op::PutIfAbsent, "/attachments/", denied, 100));
    let store: Arc<dyn ObjectStore> = faults;
    let mut cfg = writer_config(S, 1, "uploader");
    cfg.planted_bug = bug;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let appended = w
        .append_bytes("scan", "application/pdf", document(300_000, 9))
        .await
        .is_ok();
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    (appended, report)
}

#[tokio::test]
async fn an_event_is_never_committed_without_its_attachment() {
    let (appended, report) = append_with_failing_attachment_upload(None).await;
    assert!(!appended, "the upload failed, so the append must");
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.events, 0);
}

#[tokio::test]
async fn planted_bug_appending_despite_a_failed_upload_is_caught_by_verify() {
    let bug = Some(wormlog_writer::PlantedBug::AttachmentFailureIgnored);
    let (appended, report) = append_with_failing_attachment_upload(bug).await;
    assert!(appended);
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::AttachmentMissing { seq: 0, .. })),
        "{:?}",
        report.findings
    );
}

/// A file rewritten after the writer hashed it and before the store received it: the bytes
/// that went up are not the ones the SHA-256 names, the append fails, and nothing is stored,
/// so no event names a document other than the one it records. In one PUT, the store refuses
/// them (every store but moto, which checks no SHA-256 it is sent: docs/s3.md); in parts,
/// each part is checked against its own bytes, and the writer checks the parts it sent make
/// the file it hashed before it completes the upload.
async fn a_file_changed_after_it_was_hashed_is_refused(
    store: Arc<dyn ObjectStore>,
    in_parts: bool,
) {
    use wormlog_store::{FaultStore, Op};
    let size = if in_parts {
        PART_SIZE as usize + (1 << 20)
    } else {
        300 << 10
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invoice.xml");
    std::fs::write(&path, document(size, 1)).unwrap();
    let faults = Arc::new(FaultStore::new(store));
    let target = path.clone();
    let first_send = if in_parts {
        Op::Upload
    } else {
        Op::PutIfAbsent
    };
    faults.before_each(move |op, key| {
        let rewrite = op == first_send && key.contains("/attachments/");
        let target = target.clone();
        async move {
            if rewrite {
                std::fs::write(&target, document(size, 2)).unwrap();
            }
        }
    });
    let store: Arc<dyn ObjectStore> = faults;
    let mut cfg = writer_config(S, 1, "uploader");
    if in_parts {
        cfg.parts_above = 2 << 20;
    }
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let refused = w
        .file_event("invoice", "application/xml", &path)
        .await
        .expect_err("bytes that are not the hashed ones are refused")
        .to_string();
    assert!(
        ["do not match the SHA-256", "changed while it was uploaded"]
            .iter()
            .any(|why| refused.contains(why)),
        "{refused}"
    );
    w.close().await;
    assert_eq!(attachments(&store).await, 0, "nothing was stored");
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.events, 0);
}

async fn changed_in_one_put(store: Arc<dyn ObjectStore>) {
    a_file_changed_after_it_was_hashed_is_refused(store, false).await;
}

async fn changed_in_parts(store: Arc<dyn ObjectStore>) {
    a_file_changed_after_it_was_hashed_is_refused(store, true).await;
}

mod a_file_changed_after_it_was_hashed_is_refused {
    use super::*;
    wormlog_tests::on_every_local_store!(changed_in_one_put, changed_in_parts);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn by_rgw_in_one_put() {
        let rgw = wormlog_tests::servers::RGW;
        let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-rgw");
        changed_in_one_put(rgw.store(&bucket, false).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_parts_on_rgw() {
        let rgw = wormlog_tests::servers::RGW;
        let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-rgw");
        changed_in_parts(rgw.store(&bucket, false).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_parts_on_moto() {
        let moto = wormlog_tests::servers::MOTO;
        let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-moto");
        changed_in_parts(moto.store(&bucket, true).await).await;
    }
}

/// An attachment changed under the checksum its store kept is still found by `verify`, which
/// reads the bytes wherever the kept checksum does not stand for them: a directory store's
/// file edited in place (its sidecar keeps the SHA-256 it was written with), and moto, which
/// keeps the SHA-256 it is sent without checking it.
async fn a_document_changed_under_its_kept_checksum_is_found(
    store: Arc<dyn ObjectStore>,
    change: impl FnOnce(&str, Bytes, [u8; 32]) -> futures::future::BoxFuture<'static, ()>,
) {
    let w = writer(&store).await;
    let doc = document(300 << 10, 4);
    let ack = w
        .append_bytes("scan", "application/pdf", doc.clone())
        .await
        .unwrap();
    w.close().await;
    let keys = StreamKeys::new("", S).unwrap();
    let digest: [u8; 32] = sha2::Sha256::digest(&doc).into();
    let key = keys.attachment(&wormlog_format::attachment_key(&wormlog_format::hex_of(
        &digest,
    )));
    assert!(verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap()
        .is_clean());
    change(&key, document(300 << 10, 5), digest).await;
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(
        matches!(&report.findings[..], [Finding::AttachmentChanged { seq, .. }] if *seq == ack.seq),
        "{:?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_edited_in_place_in_a_directory_store_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(wormlog_store::FsStore::open(dir.path()));
    let objects = dir.path().join("objects");
    a_document_changed_under_its_kept_checksum_is_found(store, move |key, other, _| {
        let path = objects.join(key);
        Box::pin(async move {
            assert!(path.is_file(), "{}", path.display());
            std::fs::write(&path, other).unwrap();
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_replaced_on_moto_under_the_same_checksum_is_found() {
    let moto = wormlog_tests::servers::MOTO;
    let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-moto");
    let store: Arc<dyn ObjectStore> = moto.store(&bucket, false).await;
    let replace = Arc::clone(&store);
    a_document_changed_under_its_kept_checksum_is_found(store, move |key, other, digest| {
        let key = key.to_owned();
        Box::pin(async move {
            // moto keeps the SHA-256 sent with these other bytes, unchecked.
            let opts = PutOptions {
                sha256: Some(digest),
                ..PutOptions::default()
            };
            replace
                .delete(&key, &DeleteOptions::default())
                .await
                .unwrap();
            replace.put_if_absent(&key, other, &opts).await.unwrap();
            assert_eq!(
                replace.head(&key).await.unwrap().sha256,
                Some(wormlog_format::hex_of(&digest))
            );
        })
    })
    .await;
}
