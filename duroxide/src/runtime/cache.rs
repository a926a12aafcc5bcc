//! The instance cache: live replay engines of recent executions, so that a turn costs
//! O(new events) instead of a replay of the whole history.
//!
//! An engine is taken out of the cache for the duration of a turn (the instance lock makes
//! the turn exclusive) and put back only after the turn committed. It is used only if it
//! is at exactly the history length the store reports, so a stale engine is never resumed.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::orchestration::ReplayEngine;

struct Entry {
    execution_id: u64,
    history_len: u64,
    engine: ReplayEngine,
}

pub(crate) struct InstanceCache {
    entries: Option<Mutex<LruCache<String, Entry>>>,
}

impl InstanceCache {
    pub(crate) fn new(capacity: usize) -> Self {
        InstanceCache {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    /// Takes the engine of `instance` if it is at `execution_id` / `history_len`.
    pub(crate) fn take(
        &self,
        instance: &str,
        execution_id: u64,
        history_len: u64,
    ) -> Option<ReplayEngine> {
        let mut entries = self
            .entries
            .as_ref()?
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let entry = entries.pop(instance)?;
        (entry.execution_id == execution_id && entry.history_len == history_len)
            .then_some(entry.engine)
    }

    /// Keeps an engine after its turn committed.
    pub(crate) fn put(&self, instance: String, engine: ReplayEngine) {
        let Some(entries) = &self.entries else { return };
        let entry = Entry {
            execution_id: engine.execution_id(),
            history_len: engine.history_len(),
            engine,
        };
        entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(instance, entry);
    }
}
