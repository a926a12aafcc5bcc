//! Key layout of the sled trees. Integers are big-endian so range scans come out ordered.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `instances` | instance id bytes | `InstanceInfo` |
//! | `history` | `len(instance) u32 · instance · execution u64 · event_id u64` | `Event` |
//! | `orch_queue` | `seq u64` | `OrchEntry` (visibility time + message) |
//! | `work_queue` | `seq u64` | `WorkEntry` (visibility time + item) |
//! | `work_attempts` | `seq u64` | deliveries so far (`u32`), written before each delivery |
//! | `orch_attempts` | instance id bytes | deliveries since the last committed turn (`u32`), written before a delivery that may follow a crash or a lost lock |
//! | `dead_letters` | `tree name · 0 · original key` | the original bytes, untouched |
//!
//! The length prefix makes an instance's history prefix unambiguous whatever bytes the id
//! holds (an id that is a prefix of another cannot alias it).

pub(super) fn instance(instance: &str) -> Vec<u8> {
    instance.as_bytes().to_vec()
}

pub(super) fn history_instance_prefix(instance: &str) -> Vec<u8> {
    let bytes = instance.as_bytes();
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut key = Vec::with_capacity(4 + bytes.len() + 16);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(bytes);
    key
}

pub(super) fn history_execution_prefix(instance: &str, execution_id: u64) -> Vec<u8> {
    let mut key = history_instance_prefix(instance);
    key.extend_from_slice(&execution_id.to_be_bytes());
    key
}

pub(super) fn history(instance: &str, execution_id: u64, event_id: u64) -> Vec<u8> {
    let mut key = history_execution_prefix(instance, execution_id);
    key.extend_from_slice(&event_id.to_be_bytes());
    key
}

/// The execution id inside a history key, given the length of its instance prefix.
pub(super) fn execution_of(key: &[u8], prefix_len: usize) -> Option<u64> {
    let bytes: [u8; 8] = key.get(prefix_len..prefix_len + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub(super) fn seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(super) fn parse_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

pub(super) fn dead_letter(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut out = tree.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_history_prefixes_do_not_alias() {
        let a = history("ab", 1, 1);
        let b_prefix = history_instance_prefix("a");
        assert!(!a.starts_with(&b_prefix));
        assert!(a.starts_with(&history_instance_prefix("ab")));
        assert!(history("ab", 1, 2) > history("ab", 1, 1));
        assert!(history("ab", 2, 1) > history("ab", 1, 999));
        let prefix = history_instance_prefix("ab");
        assert_eq!(execution_of(&history("ab", 7, 3), prefix.len()), Some(7));
    }
}
