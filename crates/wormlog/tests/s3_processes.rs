//! Split brain across real OS processes on the real S3 servers (scripts/rgw.sh,
//! scripts/moto.sh): two `wormlog append --streaming` processes with epochs 1 and 2 race on one
//! stream in one bucket. Exactly one create-only PUT wins each slot; the stale leader exits 3
//! with an error naming the 412; the log is one consistent history.

mod support;

use wormlog_tests::servers::{MOTO, RGW};

#[test]
fn two_writer_processes_race_on_ceph_rgw_and_the_stale_one_exits_3_naming_the_412() {
    support::split_brain_race(&support::Env::s3(RGW), 20, 150);
}

#[test]
fn two_writer_processes_race_on_moto_and_the_stale_one_exits_3_naming_the_412() {
    support::split_brain_race(&support::Env::s3(MOTO), 20, 150);
}
