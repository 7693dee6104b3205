//! The checker: what protocol.md's invariants forbid, found in one run's history and final
//! reads. Each violation is one sentence naming the invariant.

use std::collections::{BTreeMap, HashMap};

use wormlog_reader::Finding;

use crate::history::{Outcome, StopKind};
use crate::{Seen, SimRun};

/// A broken rule, in one sentence.
pub type Violation = String;

/// Checks a run against the invariants; empty when it holds them all.
pub fn check(run: &SimRun) -> Vec<Violation> {
    let mut v = Vec::new();
    let replay = match &run.finale.replays[0] {
        Ok(r) => r.clone(),
        Err(e) => {
            v.push(format!(
                "the final replay failed (a gap, corruption or discontinuity): {e}"
            ));
            return v;
        }
    };
    reads_agree(run, &replay, &mut v);
    follower_is_complete(run, &replay, &mut v);
    audit_is_clean(run, &mut v);
    let at = log_is_whole(run, &replay, &mut v);
    outcomes_hold(run, &at, &mut v);
    stopped_writers_stay_stopped(run, &mut v);
    takeovers_are_bounded(run, &mut v);
    v
}

/// Liveness (profiles with a takeover bound): a leader that opens while a stale writer
/// appends without pause is in the log (or refused) within the bound, whatever the stale
/// writer does: fencing ahead, not a chase that lasts as long as it writes.
fn takeovers_are_bounded(run: &SimRun, v: &mut Vec<Violation>) {
    let Some(bound) = run.takeover_bound else {
        return;
    };
    let h = &run.history;
    for o in h
        .open_times
        .iter()
        .filter(|o| o.writer.starts_with("node-"))
    {
        let contended = h
            .runaways
            .iter()
            .any(|&(from, to)| o.started_ms < to && o.started_ms + o.took_ms > from);
        if contended && o.took_ms > bound.as_millis() as u64 {
            v.push(format!(
                "{} took {} ms to open while a stale writer appended (bound {} ms): the takeover is not bounded",
                o.writer,
                o.took_ms,
                bound.as_millis()
            ));
        }
    }
}

/// I8: every way of reading the log gives the same events.
fn reads_agree(run: &SimRun, replay: &[Seen], v: &mut Vec<Violation>) {
    let f = &run.finale;
    if f.replays[1].as_ref().ok() != Some(&replay.to_vec()) {
        v.push("a replay with prefetch 8 differs from one with prefetch 1 (I8)".into());
    }
    let applied: Vec<(u64, u64)> = replay.iter().map(|s| (s.seq, s.op)).collect();
    match (&f.with_snapshots, &f.without_snapshots) {
        (Ok(with), Ok(without)) if with == without && *without == applied => {}
        (Ok(with), Ok(_)) => v.push(format!(
            "a replay from a snapshot applied {} events where the log holds {} (I8)",
            with.len(),
            applied.len()
        )),
        (Err(e), _) | (_, Err(e)) => v.push(format!("a replay into state failed: {e}")),
    }
    for (seq, got) in &f.seeks {
        let want: Vec<Seen> = replay.iter().filter(|s| s.seq >= *seq).cloned().collect();
        if got.as_ref().ok() != Some(&want) {
            v.push(format!(
                "a scan from seq {seq} differs from the replay from slot 0 (I8): {got:?}"
            ));
        }
    }
    for z in &f.zombie_seeks {
        if z.got.as_ref().ok() != z.want.as_ref().ok() {
            v.push(format!(
                "with a zombie at the tail, a scan from seq {} differs from one from slot 0 (I8)",
                z.seq
            ));
        }
    }
}

/// The follower delivered exactly what the final replay holds (purged events aside), and
/// ended only because it was stopped.
fn follower_is_complete(run: &SimRun, replay: &[Seen], v: &mut Vec<Violation>) {
    if let Err(e) = &run.follower_end {
        v.push(format!(
            "the follower ended with an error no protocol rule allows here: {e}"
        ));
    }
    let purged = &run.finale.purged_seqs;
    let followed: Vec<&Seen> = run
        .followed
        .iter()
        .filter(|s| !purged.contains(&s.seq))
        .collect();
    let expected: Vec<&Seen> = replay.iter().collect();
    if followed != expected {
        let n = followed.len().min(expected.len());
        let kind = if followed[..n] == expected[..n] {
            "stopped early: it missed events the log holds"
        } else {
            "saw a different history than the final replay"
        };
        v.push(format!(
            "the follower {kind} ({} events delivered, {} in the log) (I1, I3, I8)",
            followed.len(),
            expected.len()
        ));
    }
}

/// `verify` finds nothing and no orphan; the only finding allowed is a purge record whose
/// commit had an unknown outcome, left without its index key.
fn audit_is_clean(run: &SimRun, v: &mut Vec<Violation>) {
    let report = match &run.finale.verify {
        Ok(r) => r,
        Err(e) => return v.push(format!("verify failed: {e}")),
    };
    let unknown_purges = run.history.purges.iter().filter(|p| !p.known).count();
    let mut unindexed = 0;
    for f in &report.findings {
        match f {
            Finding::PurgeUnindexed { .. } => unindexed += 1,
            other => v.push(format!("verify: {}", other.describe())),
        }
    }
    // Writers that keep one slot in flight settle each before the next: every segment they
    // write names the valid one below it, so none is an orphan. (Pipelined writers leave
    // orphans above a failed speculation; the replay checks show nothing of them is lost.)
    if let Some(o) = report.orphans.first().filter(|_| !run.pipelined) {
        v.push(format!(
            "verify found {} orphans (first at slot {}, by {:?}): a writer named the wrong predecessor",
            report.orphans.len(),
            o.slot,
            o.writer
        ));
    }
    if unindexed > unknown_purges {
        v.push(format!(
            "verify found {unindexed} unindexed purge records, but only {unknown_purges} purges had an unknown outcome"
        ));
    }
    // Every checkpoint a writer signed as it went is the tree readers compute.
    match &run.finale.tree {
        Ok(tree) => v.extend(tree.violations.iter().map(|t| format!("checkpoints: {t}"))),
        Err(e) => v.push(format!("the checkpoint audit failed: {e}")),
    }
}

/// I2, I4, I6, I7 on the final replay: seqs run without holes (but purged ones), each op at
/// most once, epochs never go down. Returns where each op is.
fn log_is_whole<'a>(
    run: &SimRun,
    replay: &'a [Seen],
    v: &mut Vec<Violation>,
) -> HashMap<u64, &'a Seen> {
    let purged = &run.finale.purged_seqs;
    let mut expected = 0u64;
    let mut at: HashMap<u64, &Seen> = HashMap::new();
    for s in replay {
        while purged.contains(&expected) && expected < s.seq {
            expected += 1;
        }
        if s.seq != expected {
            v.push(format!(
                "seq {} found where seq {expected} belongs (a gap, I2)",
                s.seq
            ));
        }
        expected = s.seq + 1;
        if let Some(first) = at.insert(s.op, s) {
            v.push(format!(
                "op {} appears at seq {} and at seq {} (I6, I7)",
                s.op, first.seq, s.seq
            ));
        }
    }
    if let Some(w) = replay.windows(2).find(|w| w[1].epoch < w[0].epoch) {
        v.push(format!(
            "epoch {} follows epoch {} at seq {} (I4)",
            w[1].epoch, w[0].epoch, w[1].seq
        ));
    }
    at
}

/// I3 and I6 against the history: acknowledged ops are where they were acknowledged (unless
/// purged), definitely failed ones are nowhere, and each writer's acknowledgements go up.
fn outcomes_hold(run: &SimRun, at: &HashMap<u64, &Seen>, v: &mut Vec<Violation>) {
    let purged = &run.finale.purged_seqs;
    let mut last_acked: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &run.history.entries {
        match e.outcome {
            Outcome::Acked { seq } => {
                match at.get(&e.op) {
                    Some(s) if s.seq == seq => {}
                    Some(s) => v.push(format!(
                        "op {} was acknowledged at seq {seq} but is at seq {} (I3)",
                        e.op, s.seq
                    )),
                    None if purged.contains(&seq) => {}
                    None => v.push(format!(
                        "op {} was acknowledged at seq {seq} by {} but is not in the log (I3)",
                        e.op, e.writer
                    )),
                }
                if let Some(&prev) = last_acked.get(e.writer.as_str()) {
                    if seq <= prev {
                        v.push(format!(
                            "{} acknowledged seq {seq} after seq {prev}: per-writer order broken",
                            e.writer
                        ));
                    }
                }
                last_acked.insert(&e.writer, seq);
            }
            Outcome::Failed if at.contains_key(&e.op) => v.push(format!(
                "op {} failed definitely for {} but is in the log at seq {} (I6: a ghost)",
                e.op, e.writer, at[&e.op].seq
            )),
            _ => {}
        }
    }
}

/// I5: a writer that stopped for good (fenced, conflicted, poisoned, leadership lost) sends no
/// log PUT from the moment it decided to; and an epoch conflict needs two writers on one epoch.
fn stopped_writers_stay_stopped(run: &SimRun, v: &mut Vec<Violation>) {
    for stop in &run.history.stops {
        if let Some((i, _)) = run
            .log_puts
            .iter()
            .find(|(i, w)| *i >= stop.journal_at && *w == stop.writer)
        {
            v.push(format!(
                "{} sent log PUT #{i} after it stopped ({:?} at #{}) (I5)",
                stop.writer, stop.kind, stop.journal_at
            ));
        }
        if stop.kind == StopKind::EpochConflict {
            let twins = run
                .history
                .opened
                .iter()
                .filter(|(_, e)| *e == stop.epoch)
                .count();
            if twins < 2 {
                v.push(format!(
                    "{} reported an epoch conflict at epoch {}, which no other writer held",
                    stop.writer, stop.epoch
                ));
            }
        }
    }
}
