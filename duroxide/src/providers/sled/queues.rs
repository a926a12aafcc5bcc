//! The in-memory index over the durable queues: what is visible, what is locked, until when.
//!
//! sled allows one process per database, so peek-locks need not be durable: they live here,
//! and a restart (which ends every holder anyway) frees them. The durable trees hold the
//! messages; this index is rebuilt from them at open and updated by the committer after
//! each durable commit, so it never shows a message that is not on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Locks and visibility of the orchestrator queue, per instance.
#[derive(Debug, Default)]
pub(super) struct OrchQueue {
    /// Pending messages per instance: seq -> visible_at.
    pending: HashMap<String, BTreeMap<u64, u64>>,
    /// Unlocked instances with messages, keyed by (earliest visible time, its seq).
    ready: BTreeSet<(u64, u64, String)>,
    ready_key: HashMap<String, (u64, u64)>,
    locks: HashMap<String, OrchLock>,
    by_token: HashMap<u64, String>,
    /// (expires_at, token) of locks that may still expire (not committing).
    expiry: BTreeSet<(u64, u64)>,
    /// An abandoned instance is not visible before this time.
    not_before: HashMap<String, u64>,
    /// Deliveries of an instance's messages since its last committed turn that were not
    /// handed back (abandoned, or a commit that failed): lock expiries and lost processes.
    deliveries: HashMap<String, u32>,
    /// Instances whose delivery count must be durable before their next delivery: those
    /// that had messages when the store was opened (a process may have died in their turn)
    /// and those whose count is already on disk. Cleared by a committed turn.
    durable_counts: HashSet<String>,
}

/// An instance locked by [`OrchQueue::fetch`].
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OrchFetch {
    pub(super) instance: String,
    /// Its visible messages, in order.
    pub(super) seqs: Vec<u64>,
    /// Which delivery since the last committed turn this is (1 for the first).
    pub(super) attempt: u32,
    /// Whether `attempt` must be written to disk before the turn runs.
    pub(super) persist: bool,
}

#[derive(Debug)]
struct OrchLock {
    token: u64,
    expires_at: u64,
    delivered: Vec<u64>,
    committing: bool,
}

/// Why a lock operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LockLost;

impl OrchQueue {
    pub(super) fn add(&mut self, instance: &str, seq: u64, visible_at: u64) {
        self.pending
            .entry(instance.to_string())
            .or_default()
            .insert(seq, visible_at);
        self.refresh(instance);
    }

    pub(super) fn remove(&mut self, instance: &str, seq: u64) {
        if let Some(msgs) = self.pending.get_mut(instance) {
            msgs.remove(&seq);
            if msgs.is_empty() {
                self.pending.remove(instance);
            }
        }
        self.refresh(instance);
    }

    fn refresh(&mut self, instance: &str) {
        if let Some(key) = self.ready_key.remove(instance) {
            self.ready.remove(&(key.0, key.1, instance.to_string()));
        }
        if self.locks.contains_key(instance) {
            return;
        }
        let Some(msgs) = self.pending.get(instance) else {
            self.not_before.remove(instance);
            return;
        };
        let floor = self.not_before.get(instance).copied().unwrap_or(0);
        if let Some((visible, seq)) = msgs
            .iter()
            .map(|(&seq, &visible)| (visible.max(floor), seq))
            .min()
        {
            self.ready.insert((visible, seq, instance.to_string()));
            self.ready_key.insert(instance.to_string(), (visible, seq));
        }
    }

    fn expire(&mut self, now: u64) {
        while let Some(&(expires_at, token)) = self.expiry.first() {
            if expires_at > now {
                break;
            }
            self.expiry.pop_first();
            if let Some(instance) = self.by_token.remove(&token) {
                self.locks.remove(&instance);
                self.refresh(&instance);
            }
        }
    }

    /// Locks the instance whose earliest message is visible soonest (if visible by `now`);
    /// returns it with the seqs of its visible messages and its delivery count.
    pub(super) fn fetch(&mut self, now: u64, lock_ms: u64, token: u64) -> Option<OrchFetch> {
        self.expire(now);
        let (visible, _, _) = self.ready.first()?;
        if *visible > now {
            return None;
        }
        let (_, _, instance) = self.ready.pop_first()?;
        self.ready_key.remove(&instance);
        self.not_before.remove(&instance);
        let delivered: Vec<u64> = self
            .pending
            .get(&instance)
            .map(|m| {
                m.iter()
                    .filter(|(_, &visible)| visible <= now)
                    .map(|(&seq, _)| seq)
                    .collect()
            })
            .unwrap_or_default();
        let expires_at = now.saturating_add(lock_ms);
        self.locks.insert(
            instance.clone(),
            OrchLock {
                token,
                expires_at,
                delivered: delivered.clone(),
                committing: false,
            },
        );
        self.by_token.insert(token, instance.clone());
        self.expiry.insert((expires_at, token));
        let attempt = self.deliveries.entry(instance.clone()).or_insert(0);
        *attempt = attempt.saturating_add(1);
        let attempt = *attempt;
        // A redelivery in this process means a turn lost its lock; count it durably from
        // here on, so a crash loop that follows is counted too.
        let persist = attempt > 1 || self.durable_counts.contains(&instance);
        if persist {
            self.durable_counts.insert(instance.clone());
        }
        Some(OrchFetch {
            instance,
            seqs: delivered,
            attempt,
            persist,
        })
    }

    /// Marks every instance that has messages now (at open) as one whose count must be
    /// durable, restoring the counts found on disk.
    pub(super) fn inherit_pending(&mut self, counts: HashMap<String, u32>) {
        for instance in self.pending.keys() {
            self.durable_counts.insert(instance.clone());
            if let Some(&count) = counts.get(instance) {
                self.deliveries.insert(instance.clone(), count);
            }
        }
    }

    /// Whether an instance has messages (used at open to find orphaned counts).
    pub(super) fn has_pending(&self, instance: &str) -> bool {
        self.pending.contains_key(instance)
    }

    /// Whether the instance's delivery count may be on disk (a commit then deletes it).
    pub(super) fn count_is_durable(&self, instance: &str) -> bool {
        self.durable_counts.contains(instance)
    }

    fn valid(&mut self, token: u64, now: u64) -> Result<String, LockLost> {
        self.expire(now);
        let instance = self.by_token.get(&token).ok_or(LockLost)?.clone();
        match self.locks.get(&instance) {
            Some(lock) if lock.token == token && !lock.committing => Ok(instance),
            _ => Err(LockLost),
        }
    }

    /// Starts committing under `token`: the lock can no longer expire. Returns the instance
    /// and the messages its turn consumed.
    pub(super) fn begin_commit(
        &mut self,
        token: u64,
        now: u64,
    ) -> Result<(String, Vec<u64>), LockLost> {
        let instance = self.valid(token, now)?;
        let lock = self.locks.get_mut(&instance).ok_or(LockLost)?;
        lock.committing = true;
        let expiry = (lock.expires_at, token);
        let delivered = lock.delivered.clone();
        self.expiry.remove(&expiry);
        Ok((instance, delivered))
    }

    /// Releases the lock of a turn that committed (or of a deletion): the instance made
    /// progress, so its delivery count starts again.
    pub(super) fn release_committed(&mut self, token: u64) {
        if let Some(instance) = self.by_token.get(&token) {
            self.deliveries.remove(instance);
            self.durable_counts.remove(instance);
        }
        self.release(token);
    }

    /// Releases a lock whose holder handed it back (an abandon, a commit that failed): that
    /// delivery does not count towards the poison limit, since the runtime reported back.
    pub(super) fn release_uncounted(&mut self, token: u64) {
        if let Some(count) = self
            .by_token
            .get(&token)
            .and_then(|instance| self.deliveries.get_mut(instance))
        {
            *count = count.saturating_sub(1);
        }
        self.release(token);
    }

    /// Releases a lock; the instance's remaining messages become fetchable again.
    fn release(&mut self, token: u64) {
        if let Some(instance) = self.by_token.remove(&token) {
            if let Some(lock) = self.locks.remove(&instance) {
                self.expiry.remove(&(lock.expires_at, token));
            }
            self.refresh(&instance);
        }
    }

    pub(super) fn abandon(&mut self, token: u64, now: u64, delay_ms: u64) -> Result<(), LockLost> {
        let instance = self.valid(token, now)?;
        if delay_ms > 0 {
            self.not_before
                .insert(instance, now.saturating_add(delay_ms));
        }
        self.release_uncounted(token);
        Ok(())
    }

    pub(super) fn renew(&mut self, token: u64, now: u64, lock_ms: u64) -> Result<(), LockLost> {
        let instance = self.valid(token, now)?;
        let lock = self.locks.get_mut(&instance).ok_or(LockLost)?;
        self.expiry.remove(&(lock.expires_at, token));
        lock.expires_at = now.saturating_add(lock_ms);
        self.expiry.insert((lock.expires_at, token));
        Ok(())
    }

    /// Locks an instance for deletion (whatever its messages): fails if a turn holds it.
    /// The lock cannot expire; [`release`](Self::release) it after the delete commits.
    pub(super) fn lock_for_delete(
        &mut self,
        instance: &str,
        token: u64,
        now: u64,
    ) -> Result<(), LockLost> {
        self.expire(now);
        if self.locks.contains_key(instance) {
            return Err(LockLost);
        }
        if let Some(key) = self.ready_key.remove(instance) {
            self.ready.remove(&(key.0, key.1, instance.to_string()));
        }
        self.locks.insert(
            instance.to_string(),
            OrchLock {
                token,
                expires_at: u64::MAX,
                delivered: Vec::new(),
                committing: true,
            },
        );
        self.by_token.insert(token, instance.to_string());
        Ok(())
    }

    /// The pending message seqs of an instance.
    pub(super) fn pending_of(&self, instance: &str) -> Vec<u64> {
        self.pending
            .get(instance)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// When something may next become fetchable: the earliest ready time or lock expiry.
    pub(super) fn next_due(&self) -> Option<u64> {
        let ready = self.ready.first().map(|(v, _, _)| *v);
        let expiry = self.expiry.first().map(|(e, _)| *e);
        match (ready, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Locks and visibility of the worker queue, per item.
#[derive(Debug, Default)]
pub(super) struct WorkQueue {
    ready: BTreeSet<(u64, u64)>,
    visible_of: HashMap<u64, u64>,
    locks: HashMap<u64, WorkLock>,
    by_token: HashMap<u64, u64>,
    expiry: BTreeSet<(u64, u64)>,
    attempts: HashMap<u64, u32>,
}

#[derive(Debug)]
struct WorkLock {
    token: u64,
    expires_at: u64,
    committing: bool,
}

impl WorkQueue {
    pub(super) fn add(&mut self, seq: u64, visible_at: u64) {
        self.ready.insert((visible_at, seq));
        self.visible_of.insert(seq, visible_at);
    }

    /// Restores an item's delivery count from the store (at open).
    pub(super) fn set_attempts(&mut self, seq: u64, attempts: u32) {
        self.attempts.insert(seq, attempts);
    }

    /// Forgets an item entirely (after its ack committed).
    pub(super) fn remove(&mut self, seq: u64) {
        if let Some(visible) = self.visible_of.remove(&seq) {
            self.ready.remove(&(visible, seq));
        }
        if let Some(lock) = self.locks.remove(&seq) {
            self.by_token.remove(&lock.token);
            self.expiry.remove(&(lock.expires_at, lock.token));
        }
        self.attempts.remove(&seq);
    }

    fn unlock_to_ready(&mut self, seq: u64, visible_at: u64) {
        if let Some(lock) = self.locks.remove(&seq) {
            self.by_token.remove(&lock.token);
            self.expiry.remove(&(lock.expires_at, lock.token));
            self.add(seq, visible_at);
        }
    }

    fn expire(&mut self, now: u64) {
        while let Some(&(expires_at, token)) = self.expiry.first() {
            if expires_at > now {
                break;
            }
            self.expiry.pop_first();
            if let Some(&seq) = self.by_token.get(&token) {
                self.unlock_to_ready(seq, now);
            }
        }
    }

    /// Locks the earliest visible item; returns its seq and delivery count.
    pub(super) fn fetch(&mut self, now: u64, lock_ms: u64, token: u64) -> Option<(u64, u32)> {
        self.expire(now);
        let &(visible, seq) = self.ready.first()?;
        if visible > now {
            return None;
        }
        self.ready.pop_first();
        self.visible_of.remove(&seq);
        let expires_at = now.saturating_add(lock_ms);
        self.locks.insert(
            seq,
            WorkLock {
                token,
                expires_at,
                committing: false,
            },
        );
        self.by_token.insert(token, seq);
        self.expiry.insert((expires_at, token));
        let attempt = self.attempts.entry(seq).or_insert(0);
        *attempt += 1;
        Some((seq, *attempt))
    }

    fn valid(&mut self, token: u64, now: u64) -> Result<u64, LockLost> {
        self.expire(now);
        let seq = *self.by_token.get(&token).ok_or(LockLost)?;
        match self.locks.get(&seq) {
            Some(lock) if lock.token == token && !lock.committing => Ok(seq),
            _ => Err(LockLost),
        }
    }

    pub(super) fn begin_commit(&mut self, token: u64, now: u64) -> Result<u64, LockLost> {
        let seq = self.valid(token, now)?;
        let lock = self.locks.get_mut(&seq).ok_or(LockLost)?;
        lock.committing = true;
        let expiry = (lock.expires_at, token);
        self.expiry.remove(&expiry);
        Ok(seq)
    }

    /// Undoes `begin_commit` after a failed commit: the item is visible again.
    pub(super) fn abort_commit(&mut self, token: u64, now: u64) {
        if let Some(&seq) = self.by_token.get(&token) {
            self.unlock_to_ready(seq, now);
        }
    }

    pub(super) fn abandon(&mut self, token: u64, now: u64, delay_ms: u64) -> Result<(), LockLost> {
        let seq = self.valid(token, now)?;
        self.unlock_to_ready(seq, now.saturating_add(delay_ms));
        Ok(())
    }

    pub(super) fn renew(&mut self, token: u64, now: u64, lock_ms: u64) -> Result<(), LockLost> {
        let seq = self.valid(token, now)?;
        let lock = self.locks.get_mut(&seq).ok_or(LockLost)?;
        self.expiry.remove(&(lock.expires_at, token));
        lock.expires_at = now.saturating_add(lock_ms);
        self.expiry.insert((lock.expires_at, token));
        Ok(())
    }

    pub(super) fn next_due(&self) -> Option<u64> {
        let ready = self.ready.first().map(|(v, _)| *v);
        let expiry = self.expiry.first().map(|(e, _)| *e);
        match (ready, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(fetched: Option<OrchFetch>) -> (String, Vec<u64>) {
        let f = fetched.expect("an instance is fetchable");
        (f.instance, f.seqs)
    }

    #[test]
    fn queues_orch_batches_visible_messages_and_locks_instance() {
        let mut q = OrchQueue::default();
        q.add("a", 1, 0);
        q.add("a", 2, 0);
        q.add("a", 3, 1_000); // a timer, not yet due
        q.add("b", 4, 0);
        let (inst, seqs) = batch(q.fetch(10, 100, 1));
        assert_eq!((inst.as_str(), seqs), ("a", vec![1, 2]));
        // "a" is locked: the next fetch gets "b", then nothing.
        assert_eq!(batch(q.fetch(10, 100, 2)).0, "b");
        assert!(q.fetch(10, 100, 3).is_none());
        // Commit token 1, removing its messages: only the timer stays, due at 1000.
        let (_, delivered) = q.begin_commit(1, 20).unwrap();
        for seq in delivered {
            q.remove("a", seq);
        }
        q.release_committed(1);
        assert_eq!(q.next_due(), Some(110)); // b's lock expiry comes first
                                             // b's lock (taken at 10 for 100) has expired by 500: b is handed out again; a's timer
                                             // is not due yet.
        assert_eq!(batch(q.fetch(500, 100, 4)), ("b".to_string(), vec![4]));
        assert!(q.fetch(500, 100, 5).is_none());
        q.begin_commit(4, 550).unwrap();
        q.remove("b", 4);
        q.release_committed(4);
        assert_eq!(batch(q.fetch(1_000, 100, 6)), ("a".to_string(), vec![3]));
    }

    #[test]
    fn queues_orch_expired_lock_is_fenced_and_redelivered() {
        let mut q = OrchQueue::default();
        q.add("a", 1, 0);
        assert!(q.fetch(0, 100, 1).is_some());
        // After expiry the old holder can neither commit nor renew, and a new fetch wins.
        assert_eq!(q.begin_commit(1, 101), Err(LockLost));
        assert_eq!(q.renew(1, 101, 100), Err(LockLost));
        assert_eq!(batch(q.fetch(101, 100, 2)), ("a".to_string(), vec![1]));
        // A committing lock does not expire.
        q.begin_commit(2, 150).unwrap();
        assert!(q.fetch(10_000, 100, 3).is_none());
    }

    #[test]
    fn queues_orch_counts_deliveries_that_were_not_handed_back() {
        let mut q = OrchQueue::default();
        q.add("a", 1, 0);
        let first = q.fetch(0, 100, 1).unwrap();
        assert_eq!((first.attempt, first.persist), (1, false));
        // A lock that expires counts; from the second delivery on the count is durable.
        let second = q.fetch(200, 100, 2).unwrap();
        assert_eq!((second.attempt, second.persist), (2, true));
        // An abandon (or a failed commit) hands the delivery back: it does not count.
        q.abandon(2, 210, 0).unwrap();
        assert_eq!(q.fetch(220, 100, 3).unwrap().attempt, 2);
        assert!(q.count_is_durable("a"));
        // A committed turn starts the count again.
        q.begin_commit(3, 230).unwrap();
        q.release_committed(3);
        assert!(!q.count_is_durable("a"));
        let after = q.fetch(240, 100, 4).unwrap();
        assert_eq!((after.attempt, after.persist), (1, false));
    }

    #[test]
    fn queues_orch_instances_pending_at_open_count_durably() {
        let mut q = OrchQueue::default();
        q.add("crashed", 1, 0);
        q.add("fresh", 2, 0);
        q.inherit_pending(HashMap::from([("crashed".to_string(), 4)]));
        q.add("later", 3, 0);
        let mut seen = Vec::new();
        for token in 1..=3 {
            let f = q.fetch(0, 100, token).unwrap();
            seen.push((f.instance, f.attempt, f.persist));
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("crashed".to_string(), 5, true),
                ("fresh".to_string(), 1, true),
                ("later".to_string(), 1, false),
            ]
        );
    }

    #[test]
    fn queues_work_abandon_delay_and_attempts() {
        let mut q = WorkQueue::default();
        q.add(7, 0);
        assert_eq!(q.fetch(0, 100, 1), Some((7, 1)));
        q.abandon(1, 10, 50).unwrap();
        assert!(q.fetch(20, 100, 2).is_none());
        assert_eq!(q.next_due(), Some(60));
        assert_eq!(q.fetch(60, 100, 3), Some((7, 2)));
        assert_eq!(q.abandon(1, 60, 0), Err(LockLost));
    }
}
