//! The lease from the command line, as people run it: in containers (every process pid 1),
//! and on a log that other writers already moved to a higher epoch.

mod support;

use std::process::{Command, Output};

use support::{acks, assert_exit, stderr, stdout, Env, BIN};

/// `wormlog <args>` in a new pid namespace, where it runs as pid 1, as in a container.
fn as_pid_1(env: &Env, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--pid", "--fork", BIN, "--store"])
        .arg(env.store_url())
        .args(["--stream", "s"])
        .args(args)
        .output()
        .expect("unshare runs (util-linux)")
}

/// Two containers' processes are both pid 1: their default holder ids must still differ, or
/// one container's `lease release` frees another's live lease.
#[test]
fn a_lease_taken_in_one_container_cannot_be_released_from_another() {
    let env = Env::new();
    let o = as_pid_1(&env, &["lease", "acquire", "--duration-ms", "600000"]);
    assert_exit(&o, 0);
    let o = as_pid_1(&env, &["lease", "release"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "another process released the lease: {}",
        stdout(&o)
    );
    let o = env.run(&["lease", "status"]);
    assert!(stdout(&o).contains("held by"), "{}", stdout(&o));
}

/// On a log that `--epoch 7` writers already hold, `append --lease` gets an epoch above 7 at
/// once: it is not fenced, and it leaves the lease released.
#[test]
fn append_with_the_lease_on_a_log_at_a_higher_epoch_is_not_fenced() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "7", "1"]), 0);
    let o = env.run(&["append", "--lease", "--holder", "w", "2"]);
    assert_exit(&o, 0);
    assert_eq!(acks(&stdout(&o)).len(), 1, "{}", stderr(&o));
    let o = env.run(&["lease", "status"]);
    assert!(
        stdout(&o).contains("free (released at epoch 8)"),
        "{}",
        stdout(&o)
    );
}
