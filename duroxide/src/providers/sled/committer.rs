//! Group commit: one thread applies every pending write-set in one sled transaction and one
//! `flush()`, then acknowledges them all.
//!
//! Why (measured in `shared/design/STORAGE.md`): a sled transaction holds a process-wide
//! lock and costs about six plain inserts, and a flush per commit caps throughput at a few
//! thousand commits per second. Merging whatever queued up while the previous batch flushed
//! raises that several-fold under load and costs nothing when idle. Nothing is acknowledged
//! before its flush, so an acknowledged commit survives `kill -9`.
//!
//! The committer is the only writer of the trees, so preconditions (an instance must not
//! exist yet) are checked here against the trees plus the earlier write-sets of the same
//! batch, and a write-set that fails one is refused alone. After the flush, the committer
//! applies each write-set's effects to the in-memory queue index and wakes the dispatchers
//! and instance watchers; the index therefore never shows a message that is not durable.
//! Tree reads get the same guarantee from the read barrier (`read_barrier.rs`).

use std::collections::HashSet;
use std::fs::File;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::{oneshot, Notify};

use super::queues::{OrchQueue, WorkQueue};
use super::read_barrier::ReadBarrier;
use crate::error::ProviderError;
use crate::providers::watch::InstanceWatch;

/// Most write-sets merged into one transaction (bounds the transaction's size and latency).
const MAX_BATCH: usize = 512;

/// The trees, in the order the committer's transaction sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TreeId {
    Instances = 0,
    History = 1,
    OrchQueue = 2,
    WorkQueue = 3,
    WorkAttempts = 4,
    OrchAttempts = 5,
}

/// One change to one tree.
#[derive(Debug)]
pub(super) enum Op {
    Put(TreeId, Vec<u8>, Vec<u8>),
    Delete(TreeId, Vec<u8>),
}

/// What a commit changes in memory once it is durable.
#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) orch_removed: Vec<(String, u64)>,
    pub(super) orch_added: Vec<(String, u64, u64)>,
    pub(super) work_removed: Vec<u64>,
    pub(super) work_added: Vec<(u64, u64)>,
    /// Orchestrator lock to release once the turn is durable, or when its commit fails (so
    /// the messages are delivered again). The committer does both, so an ack whose caller
    /// stopped waiting never leaves an instance locked.
    pub(super) release_orch_lock: Option<u64>,
    /// Worker lock to make visible again if the commit fails.
    pub(super) abort_work_lock: Option<u64>,
    /// Instances whose record changed (their watchers are woken).
    pub(super) changed: Vec<String>,
}

/// A unit of atomic change, with the caller waiting for its outcome.
#[derive(Debug)]
pub(super) struct WriteSet {
    pub(super) ops: Vec<Op>,
    /// Instances that must not exist (key, id for the error).
    pub(super) require_absent: Vec<(Vec<u8>, String)>,
    pub(super) effects: Effects,
    pub(super) reply: oneshot::Sender<Result<(), ProviderError>>,
}

/// The in-memory queue index shared by the store front end and the committer.
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) orch: OrchQueue,
    pub(super) work: WorkQueue,
}

pub(super) struct Committer {
    pub(super) db: sled::Db,
    pub(super) trees: Vec<sled::Tree>,
    pub(super) index: Arc<Mutex<Index>>,
    pub(super) orch_notify: Arc<Notify>,
    pub(super) work_notify: Arc<Notify>,
    pub(super) watch: Arc<InstanceWatch>,
    /// Keeps readers from seeing a batch before it is durable.
    pub(super) barrier: Arc<ReadBarrier>,
    /// Opened `<path>/db` when power-loss durability (fdatasync after flush) is on.
    pub(super) sync_file: Option<File>,
}

impl Committer {
    /// Runs until every sender is gone.
    pub(super) fn run(self, rx: Receiver<WriteSet>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(ws) => batch.push(ws),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&self, batch: Vec<WriteSet>) {
        let mut accepted = Vec::with_capacity(batch.len());
        let mut created: HashSet<Vec<u8>> = HashSet::new();
        for ws in batch {
            match self.check_preconditions(&ws, &created) {
                Ok(()) => {
                    created.extend(ws.require_absent.iter().map(|(k, _)| k.clone()));
                    accepted.push(ws);
                }
                Err(e) => {
                    self.rollback(std::slice::from_ref(&ws));
                    let _ = ws.reply.send(Err(e));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let batch_no = self.barrier.begin();
        let result = self.apply(&accepted);
        if result.is_ok() {
            self.publish(&accepted);
        } else {
            self.rollback(&accepted);
        }
        // After publish: a reader released by the barrier also sees the batch's locks
        // released and its messages in the index.
        self.barrier.end(batch_no);
        for ws in accepted {
            // The waiter may have given up (its future dropped); nothing to do then.
            let _ = ws.reply.send(result.clone());
        }
    }

    fn check_preconditions(
        &self,
        ws: &WriteSet,
        created: &HashSet<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        let instances = &self.trees[TreeId::Instances as usize];
        for (key, id) in &ws.require_absent {
            let exists = created.contains(key)
                || instances
                    .contains_key(key)
                    .map_err(|e| ProviderError::Storage(e.to_string()))?;
            if exists {
                return Err(ProviderError::InstanceAlreadyExists(id.clone()));
            }
        }
        Ok(())
    }

    fn apply(&self, batch: &[WriteSet]) -> Result<(), ProviderError> {
        let trees: &[sled::Tree] = &self.trees;
        // Values are encoded before we get here: the closure only inserts and removes, so
        // sled's global transaction lock is held as briefly as possible.
        let tx = trees.transaction(|t| {
            for ws in batch {
                for op in &ws.ops {
                    match op {
                        Op::Put(tree, key, value) => {
                            t[*tree as usize].insert(key.as_slice(), value.as_slice())?;
                        }
                        Op::Delete(tree, key) => {
                            t[*tree as usize].remove(key.as_slice())?;
                        }
                    }
                }
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        match tx {
            Ok(()) => {}
            Err(TransactionError::Storage(e)) => return Err(ProviderError::Storage(e.to_string())),
            Err(TransactionError::Abort(())) => {
                return Err(ProviderError::Storage("transaction aborted".into()))
            }
        }
        self.db
            .flush()
            .map_err(|e| ProviderError::Storage(format!("flush: {e}")))?;
        if let Some(file) = &self.sync_file {
            file.sync_data()
                .map_err(|e| ProviderError::Storage(format!("fdatasync: {e}")))?;
        }
        Ok(())
    }

    /// Undoes the in-memory side of write-sets that did not commit: their locks are released
    /// and their messages stay visible.
    fn rollback(&self, batch: &[WriteSet]) {
        let now = crate::clock::now_ms();
        {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            for ws in batch {
                if let Some(token) = ws.effects.release_orch_lock {
                    index.orch.release_uncounted(token);
                }
                if let Some(token) = ws.effects.abort_work_lock {
                    index.work.abort_commit(token, now);
                }
            }
        }
        self.orch_notify.notify_waiters();
        self.work_notify.notify_waiters();
    }

    fn publish(&self, batch: &[WriteSet]) {
        let (mut orch, mut work) = (false, false);
        {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            for ws in batch {
                let e = &ws.effects;
                for (instance, seq) in &e.orch_removed {
                    index.orch.remove(instance, *seq);
                }
                for (instance, seq, visible) in &e.orch_added {
                    index.orch.add(instance, *seq, *visible);
                    orch = true;
                }
                for seq in &e.work_removed {
                    index.work.remove(*seq);
                }
                for (seq, visible) in &e.work_added {
                    index.work.add(*seq, *visible);
                    work = true;
                }
                if let Some(token) = e.release_orch_lock {
                    index.orch.release_committed(token);
                    orch = true;
                }
            }
        }
        if orch {
            self.orch_notify.notify_waiters();
        }
        if work {
            self.work_notify.notify_waiters();
        }
        for ws in batch {
            for instance in &ws.effects.changed {
                self.watch.notify(instance);
            }
        }
    }
}
