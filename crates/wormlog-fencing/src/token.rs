//! [`FencingToken`]: an epoch and who holds it.

/// A fencing token: the epoch a leader writes with. Tokens order by epoch; a higher epoch
/// fences every lower one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FencingToken {
    pub epoch: u64,
    pub holder: String,
}

impl PartialOrd for FencingToken {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FencingToken {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.holder.cmp(&other.holder))
    }
}

impl std::fmt::Display for FencingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "epoch {} held by {}", self.epoch, self.holder)
    }
}

/// The default id of this process as a lease holder or writer: `<program>-<host>-<pid>-<random>`
/// (the command line passes `wormlog-cli`, the Python package `wormlog-py`). The pid alone
/// collides across containers (each process there is pid 1), and the host alone across
/// processes; the random part keeps two runs of one container apart.
pub fn default_process_id(program: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(40)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = wormlog_store::SeededRng::from_entropy().next_u64() as u32;
    format!("{program}-{host}-{}-{random:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_order_by_epoch() {
        let t = |epoch, holder: &str| FencingToken {
            epoch,
            holder: holder.into(),
        };
        assert!(t(2, "a") > t(1, "z"));
        assert_eq!(t(3, "a").max(t(2, "b")).epoch, 3);
    }
}
