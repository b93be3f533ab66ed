//! The Redis key names, in the layout svc-infra uses so its Python workers and
//! ours can share one prefix.

/// The keys of one queue, all under one prefix.
///
/// With a hash-tagged prefix such as `{jobs}`, every key (the job hashes
/// included) maps to the same Redis Cluster slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    prefix: String,
    /// LIST of due job ids: new ids are pushed at the head, workers pop from the tail.
    pub(super) ready: String,
    /// LIST of reserved job ids.
    pub(super) processing: String,
    /// ZSET of reserved job ids, scored by lease deadline in epoch seconds.
    pub(super) processing_vt: String,
    /// ZSET of waiting job ids, scored by due time in epoch seconds.
    pub(super) delayed: String,
    /// STRING counter whose increments are the job ids.
    pub(super) seq: String,
    /// LIST of dead job ids, newest at the head.
    pub(super) dlq: String,
    /// LIST of wake tokens: the scripts that make jobs ready leave one, and
    /// idle workers block on it. Ours; svc-infra neither reads nor writes it.
    pub(super) wake: String,
    /// The start of every job hash key: `{prefix}:job:`, followed by the id.
    pub(super) job_prefix: String,
    /// The start of every unique-key lock: `{prefix}:unique:`, followed by the
    /// key. Each lock is a STRING holding the id of the job that holds the key.
    pub(super) unique_prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            ready: format!("{prefix}:ready"),
            processing: format!("{prefix}:processing"),
            processing_vt: format!("{prefix}:processing_vt"),
            delayed: format!("{prefix}:delayed"),
            seq: format!("{prefix}:seq"),
            dlq: format!("{prefix}:dlq"),
            wake: format!("{prefix}:wake"),
            job_prefix: format!("{prefix}:job:"),
            unique_prefix: format!("{prefix}:unique:"),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Builds the hash key of job `id`.
    pub(super) fn job(&self, id: &str) -> String {
        format!("{}{id}", self.job_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_svc_infra_layout() {
        let keys = Keys::new("jobs");
        assert_eq!(keys.ready, "jobs:ready");
        assert_eq!(keys.processing, "jobs:processing");
        assert_eq!(keys.processing_vt, "jobs:processing_vt");
        assert_eq!(keys.delayed, "jobs:delayed");
        assert_eq!(keys.seq, "jobs:seq");
        assert_eq!(keys.dlq, "jobs:dlq");
        assert_eq!(keys.wake, "jobs:wake");
        assert_eq!(keys.job("42"), "jobs:job:42");
        assert_eq!(keys.unique_prefix, "jobs:unique:");
    }

    #[test]
    fn hash_tag_prefix_is_kept_verbatim() {
        let keys = Keys::new("{jobs}");
        assert_eq!(keys.ready, "{jobs}:ready");
        assert_eq!(keys.job("7"), "{jobs}:job:7");
        assert_eq!(keys.unique_prefix, "{jobs}:unique:");
    }
}
