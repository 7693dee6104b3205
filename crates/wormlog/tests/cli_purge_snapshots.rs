//! `wormlog purge` and the snapshots that hold the events it erases.

mod support;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use support::{assert_exit, stdout, Env};
use wormlog::reader::{Replayed, Replayer, State, Target};
use wormlog::Event;

#[derive(Default, Serialize, Deserialize)]
struct Count(u64);

impl State for Count {
    fn apply(&mut self, _: &Event) {
        self.0 += 1;
    }
}

#[test]
fn a_purge_deletes_the_snapshots_that_hold_the_purged_events() {
    let env = Env::new();
    for i in 0..3 {
        assert_exit(&env.run(&["append", "--epoch", "1", &i.to_string()]), 0);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, root) = rt.block_on(env.open());
    let replayer = Replayer::new(Arc::clone(&store), &root, "s").unwrap();
    let key = rt.block_on(async {
        let r: Replayed<Count> = replayer.replay(Target::End, false).await.unwrap();
        replayer.save_snapshot(&r).await.unwrap().unwrap()
    });
    // Slots: 0 epoch-start, 1 event 0; then each later append opens at epoch 1 again.
    let o = env.run(&[
        "purge",
        "--bypass-governance",
        "--reason",
        "erasure request",
        "--operator",
        "ops",
        "--slot",
        "1",
        "--epoch",
        "1",
        "--min-age",
        "0s",
    ]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains(&format!("snapshot {key}: deleted")),
        "{}",
        stdout(&o)
    );
    assert!(rt.block_on(store.head(&key)).is_err());
}
