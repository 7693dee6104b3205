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
