//! The embedded store: [`SledProvider`], on a sled database in a local directory.
//!
//! - Records are encoded by [`crate::codec`] (bincode 2 behind a format byte).
//! - All writes go through one group committer (`committer.rs`): one transaction and one
//!   `flush()` per batch, and nothing is acknowledged before its flush, so an acknowledged
//!   commit survives `kill -9`. With [`SledOptions::sync_on_commit`] the committer also
//!   `fdatasync`s the database file, for power-loss durability.
//! - Peek-locks live in memory (`queues.rs`): sled allows one process per database, and a
//!   restart ends every lock holder anyway.
//! - Dispatchers are woken by in-process notification after each commit, plus a timer for the
//!   next due message; there is no fixed-interval polling. (`flush_async` and `watch_prefix`
//!   are never used: see `shared/design/STORAGE.md`.)

mod committer;
mod keys;
mod queues;
mod read_barrier;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Notify};

use self::committer::{Committer, Effects, Index, Op, TreeId, WriteSet};
use self::read_barrier::ReadBarrier;
use super::{
    ActivityWorkItem, InstanceInfo, InstanceWatch, LockToken, OrchestrationItem,
    OrchestratorMessage, Provider, TurnCommit, WorkItemLease,
};
use crate::clock::{millis, now_ms};
use crate::codec;
use crate::error::ProviderError;
use crate::history::Event;

/// Options of the sled store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    /// sled's page cache size in bytes (sled's own default, 1 GiB, ignores container memory
    /// limits, so we set one). Default 64 MiB.
    pub cache_capacity_bytes: u64,
    /// `fdatasync` the database file after every group commit. sled's `flush()` survives a
    /// process crash but not power loss; this buys power-loss durability for a few percent
    /// to a quarter of commit throughput. Default off.
    pub sync_on_commit: bool,
    /// How long opening waits for the directory's lock. sled lets one process open a
    /// database at a time, and after a store is dropped sled's background threads may hold
    /// the lock a moment longer; opening retries until this much time has passed, then fails
    /// with a storage error saying the store is in use. Default 5 s.
    pub lock_wait: Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity_bytes: 64 * 1024 * 1024,
            sync_on_commit: false,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// A queued orchestrator message as stored.
#[derive(Debug, Serialize, Deserialize)]
struct OrchEntry {
    visible_at_ms: u64,
    message: OrchestratorMessage,
}

/// A queued activity call as stored.
#[derive(Debug, Serialize, Deserialize)]
struct WorkEntry {
    visible_at_ms: u64,
    item: ActivityWorkItem,
}

struct Trees {
    instances: sled::Tree,
    history: sled::Tree,
    orch: sled::Tree,
    work: sled::Tree,
    work_attempts: sled::Tree,
    orch_attempts: sled::Tree,
    dead_letters: sled::Tree,
}

struct Inner {
    trees: Trees,
    index: Arc<Mutex<Index>>,
    orch_notify: Arc<Notify>,
    work_notify: Arc<Notify>,
    watch: Arc<InstanceWatch>,
    barrier: Arc<ReadBarrier>,
    sender: Mutex<Option<mpsc::Sender<WriteSet>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    next_seq: AtomicU64,
    next_token: AtomicU64,
    path: Option<PathBuf>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the committer after it drains; joining it releases its
        // handles on the database, so the directory can be reopened right away.
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(handle) = self
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = handle.join();
        }
    }
}

/// The embedded sled store. Cheap to clone; clones share the database.
///
/// One process may open a directory at a time (sled holds a file lock); the handle is
/// released when the last clone is dropped.
#[derive(Clone)]
pub struct SledProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SledProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledProvider")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn storage(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Storage(e.to_string())
}

fn corrupt(what: String, e: codec::CodecError) -> ProviderError {
    ProviderError::Corrupt {
        what,
        message: e.to_string(),
    }
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, ProviderError> {
    codec::encode(value).map_err(|e| ProviderError::Invalid(format!("{what}: {e}")))
}

/// How long an item whose record cannot be read is kept out of the way before it is
/// offered again (so a bad record does not make dispatchers spin).
const UNREADABLE_BACKOFF_MS: u64 = 5_000;

/// How long `delete_instance` waits for a turn in progress on the instance to finish.
const DELETE_LOCK_WAIT: Duration = Duration::from_secs(5);

fn parse_token(token: &LockToken) -> Result<u64, ProviderError> {
    token.0.parse().map_err(|_| ProviderError::LockLost)
}

impl SledProvider {
    /// Opens (or creates) a store in the directory `path`.
    pub async fn new(
        path: impl AsRef<Path>,
        options: Option<SledOptions>,
    ) -> Result<Self, ProviderError> {
        let path = path.as_ref().to_path_buf();
        let options = options.unwrap_or_default();
        tokio::task::spawn_blocking(move || Self::open(Some(path), options))
            .await
            .map_err(storage)?
    }

    /// A temporary store that lives in memory (and a temporary file) until dropped.
    pub async fn new_in_memory() -> Result<Self, ProviderError> {
        tokio::task::spawn_blocking(|| Self::open(None, SledOptions::default()))
            .await
            .map_err(storage)?
    }

    fn open(path: Option<PathBuf>, options: SledOptions) -> Result<Self, ProviderError> {
        let mut config = sled::Config::new()
            .cache_capacity(options.cache_capacity_bytes)
            // We flush on every group commit; sled's background flusher would only compete.
            .flush_every_ms(None);
        config = match &path {
            Some(p) => config.path(p),
            None => config.temporary(true),
        };
        let db = Self::open_db(&config, options.lock_wait).map_err(|e| {
            ProviderError::Storage(format!(
                "cannot open sled store{}: {e}",
                path.as_ref()
                    .map(|p| format!(" at {}", p.display()))
                    .unwrap_or_default()
            ))
        })?;
        let open_tree = |name: &str| db.open_tree(name).map_err(storage);
        let trees = Trees {
            instances: open_tree("instances")?,
            history: open_tree("history")?,
            orch: open_tree("orch_queue")?,
            work: open_tree("work_queue")?,
            work_attempts: open_tree("work_attempts")?,
            orch_attempts: open_tree("orch_attempts")?,
            dead_letters: open_tree("dead_letters")?,
        };
        let sync_file = match (&path, options.sync_on_commit) {
            (Some(p), true) => Some(std::fs::File::open(p.join("db")).map_err(storage)?),
            _ => None,
        };

        let index = Arc::new(Mutex::new(Index::default()));
        let max_seq = Self::recover(&trees, &mut index.lock().unwrap_or_else(|p| p.into_inner()))?;

        let orch_notify = Arc::new(Notify::new());
        let work_notify = Arc::new(Notify::new());
        let watch = Arc::new(InstanceWatch::new());
        let barrier = Arc::new(ReadBarrier::new());
        let committer = Committer {
            db: db.clone(),
            trees: vec![
                trees.instances.clone(),
                trees.history.clone(),
                trees.orch.clone(),
                trees.work.clone(),
                trees.work_attempts.clone(),
                trees.orch_attempts.clone(),
            ],
            index: Arc::clone(&index),
            orch_notify: Arc::clone(&orch_notify),
            work_notify: Arc::clone(&work_notify),
            watch: Arc::clone(&watch),
            barrier: Arc::clone(&barrier),
            sync_file,
        };
        let (sender, receiver) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("duroxide-sled-committer".into())
            .spawn(move || committer.run(receiver))
            .map_err(storage)?;
        Ok(SledProvider {
            inner: Arc::new(Inner {
                trees,
                index,
                orch_notify,
                work_notify,
                watch,
                barrier,
                sender: Mutex::new(Some(sender)),
                committer: Mutex::new(Some(handle)),
                next_seq: AtomicU64::new(max_seq.saturating_add(1)),
                next_token: AtomicU64::new(1),
                path,
            }),
        })
    }

    /// Opens the database, retrying while another holder (or the background threads of a
    /// store just dropped in this process) still has the directory's lock.
    fn open_db(config: &sled::Config, lock_wait: Duration) -> sled::Result<sled::Db> {
        let deadline = Instant::now() + lock_wait;
        let mut backoff = Duration::from_millis(5);
        loop {
            match config.open() {
                // sled 0.34 reports a held lock only through this message.
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    /// Rebuilds the in-memory queue index from the queue trees. Entries that do not decode
    /// are moved, bytes untouched, to the `dead_letters` tree and logged: nothing is lost and
    /// one bad record cannot stop the others. Returns the highest sequence number in use by a
    /// good record (a bad record's key says nothing about the sequence).
    /// Restores the delivery counts of pending work items, so the poison limit and
    /// `ActivityContext::attempt()` carry over a restart (an activity that crashes the whole
    /// process is counted too: its count is durable before it runs). Counts of items that
    /// are gone are removed; an unreadable count is logged and restarts at zero, which loses
    /// nothing but that count.
    fn recover_attempts(trees: &Trees, index: &mut Index) -> Result<(), ProviderError> {
        let mut orphans = Vec::new();
        for entry in trees.work_attempts.iter() {
            let (key, value) = entry.map_err(storage)?;
            let Some(seq) = keys::parse_seq(&key) else {
                orphans.push(key);
                continue;
            };
            if !trees.work.contains_key(key.as_ref()).map_err(storage)? {
                orphans.push(key);
                continue;
            }
            match codec::decode::<u32>(&value) {
                Ok(attempts) => index.work.set_attempts(seq, attempts),
                Err(e) => tracing::warn!(
                    target: "duroxide::providers::sled",
                    seq,
                    error = %e,
                    "unreadable delivery count of a work item; counting from zero again"
                ),
            }
        }
        for key in orphans {
            trees.work_attempts.remove(key).map_err(storage)?;
        }
        Ok(())
    }

    /// Restores the delivery counts of instances with messages, and marks every such
    /// instance as one whose count must be durable before its next turn runs: the process
    /// that wrote these messages may have died in that instance's turn, and if the turn
    /// kills every process that runs it, only a durable count can stop the crash loop.
    /// Counts of instances with no messages are removed; an unreadable count is logged and
    /// restarts at zero.
    fn recover_orch_attempts(trees: &Trees, index: &mut Index) -> Result<(), ProviderError> {
        let mut counts = std::collections::HashMap::new();
        let mut orphans = Vec::new();
        for entry in trees.orch_attempts.iter() {
            let (key, value) = entry.map_err(storage)?;
            let instance = String::from_utf8_lossy(&key).into_owned();
            if !index.orch.has_pending(&instance) {
                orphans.push(key);
                continue;
            }
            match codec::decode::<u32>(&value) {
                Ok(count) => {
                    counts.insert(instance, count);
                }
                Err(e) => tracing::warn!(
                    target: "duroxide::providers::sled",
                    instance_id = %instance,
                    error = %e,
                    "unreadable delivery count of an instance; counting from zero again"
                ),
            }
        }
        for key in orphans {
            trees.orch_attempts.remove(key).map_err(storage)?;
        }
        index.orch.inherit_pending(counts);
        Ok(())
    }

    fn recover(trees: &Trees, index: &mut Index) -> Result<u64, ProviderError> {
        let mut max_seq = 0;
        let mut dead = Vec::new();
        for entry in trees.orch.iter() {
            let (key, value) = entry.map_err(storage)?;
            let seq = keys::parse_seq(&key);
            match (seq, codec::decode::<OrchEntry>(&value)) {
                (Some(seq), Ok(e)) => {
                    max_seq = max_seq.max(seq);
                    index.orch.add(e.message.instance(), seq, e.visible_at_ms);
                }
                (_, Err(err)) => {
                    dead.push(("orch_queue", &trees.orch, key, value, err.to_string()))
                }
                (None, Ok(_)) => {
                    dead.push(("orch_queue", &trees.orch, key, value, "bad key".into()))
                }
            }
        }
        for entry in trees.work.iter() {
            let (key, value) = entry.map_err(storage)?;
            let seq = keys::parse_seq(&key);
            match (seq, codec::decode::<WorkEntry>(&value)) {
                (Some(seq), Ok(e)) => {
                    max_seq = max_seq.max(seq);
                    index.work.add(seq, e.visible_at_ms);
                }
                (_, Err(err)) => {
                    dead.push(("work_queue", &trees.work, key, value, err.to_string()))
                }
                (None, Ok(_)) => {
                    dead.push(("work_queue", &trees.work, key, value, "bad key".into()))
                }
            }
        }
        Self::recover_attempts(trees, index)?;
        Self::recover_orch_attempts(trees, index)?;
        for (name, tree, key, value, reason) in dead {
            tracing::error!(
                target: "duroxide::providers::sled",
                tree = name,
                key = ?key.as_ref(),
                %reason,
                "undecodable queue record moved to dead_letters"
            );
            trees
                .dead_letters
                .insert(keys::dead_letter(name, &key), value)
                .map_err(storage)?;
            tree.remove(&key).map_err(storage)?;
        }
        Ok(max_seq)
    }

    /// How many undecodable records were set aside in the `dead_letters` tree.
    pub fn dead_letter_count(&self) -> usize {
        self.inner.trees.dead_letters.len()
    }

    fn next_seq(&self) -> u64 {
        self.inner.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn next_token(&self) -> u64 {
        self.inner.next_token.fetch_add(1, Ordering::Relaxed)
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.inner.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands a write-set to the committer and waits until it is durable (or refused).
    async fn submit(
        &self,
        ops: Vec<Op>,
        require_absent: Vec<(Vec<u8>, String)>,
        effects: Effects,
    ) -> Result<(), ProviderError> {
        let (reply, done) = oneshot::channel();
        let ws = WriteSet {
            ops,
            require_absent,
            effects,
            reply,
        };
        let sent = match self
            .inner
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(sender) => sender.send(ws).map_err(|returned| returned.0),
            None => Err(ws),
        };
        if let Err(ws) = sent {
            let mut index = self.index();
            if let Some(token) = ws.effects.release_orch_lock {
                index.orch.release_uncounted(token);
            }
            if let Some(token) = ws.effects.abort_work_lock {
                index.work.abort_commit(token, now_ms());
            }
            return Err(ProviderError::Closed);
        }
        done.await.map_err(|_| ProviderError::Closed)?
    }

    /// Ops and effects that enqueue an orchestrator message.
    fn enqueue_op(
        &self,
        message: &OrchestratorMessage,
        visible_at_ms: u64,
        ops: &mut Vec<Op>,
        effects: &mut Effects,
    ) -> Result<(), ProviderError> {
        let seq = self.next_seq();
        let entry = OrchEntry {
            visible_at_ms,
            message: message.clone(),
        };
        ops.push(Op::Put(
            TreeId::OrchQueue,
            keys::seq(seq).to_vec(),
            encode("orchestrator message", &entry)?,
        ));
        effects
            .orch_added
            .push((message.instance().to_string(), seq, visible_at_ms));
        Ok(())
    }

    /// Long-polls the index: tries `try_claim` (which returns what it claimed, if anything,
    /// and when something next becomes due), and while nothing is claimable waits until a
    /// commit wakes `notify`, the next due time comes, or `wait` has passed. The claim is
    /// made under the index lock with no await in between, so dropping this future never
    /// strands a lock.
    async fn claim<T>(
        &self,
        notify: &Notify,
        wait: Duration,
        mut try_claim: impl FnMut(&mut Index, u64) -> (Option<T>, Option<u64>),
    ) -> Option<(T, u64)> {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a commit between the look and the wait is seen.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let token = self.next_token();
            let (claimed, next_due) = try_claim(&mut self.index(), token);
            if let Some(claimed) = claimed {
                return Some((claimed, token));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let mut sleep_for = deadline - now;
            if let Some(due) = next_due {
                let until_due = Duration::from_millis(due.saturating_sub(now_ms()).max(1));
                sleep_for = sleep_for.min(until_due);
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }
    }

    fn load_orchestration_item(
        &self,
        instance: String,
        token: u64,
        seqs: Vec<u64>,
        attempt: u32,
    ) -> Result<OrchestrationItem, ProviderError> {
        let mut messages = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let Some(bytes) = self.inner.trees.orch.get(keys::seq(seq)).map_err(storage)? else {
                continue;
            };
            let entry: OrchEntry = codec::decode(&bytes)
                .map_err(|e| corrupt(format!("orch_queue message {seq}"), e))?;
            messages.push(entry.message);
        }
        let info = self.read_instance(&instance)?;
        Ok(OrchestrationItem {
            instance,
            lock_token: LockToken(token.to_string()),
            messages,
            info,
            attempt,
        })
    }

    fn read_history_now(
        &self,
        instance: &str,
        execution_id: u64,
    ) -> Result<Vec<Event>, ProviderError> {
        let prefix = keys::history_execution_prefix(instance, execution_id);
        let mut events = Vec::new();
        for entry in self.inner.trees.history.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(storage)?;
            let event: Event = codec::decode(&value).map_err(|e| {
                corrupt(
                    format!(
                        "history of '{instance}' execution {execution_id} at key {:?}",
                        key.as_ref()
                    ),
                    e,
                )
            })?;
            events.push(event);
        }
        Ok(events)
    }

    fn list_executions_now(&self, instance: &str) -> Result<Vec<u64>, ProviderError> {
        let prefix = keys::history_instance_prefix(instance);
        let mut executions = Vec::new();
        let mut from = prefix.clone();
        loop {
            let Some(entry) = self.inner.trees.history.range(from.clone()..).next() else {
                break;
            };
            let (key, _) = entry.map_err(storage)?;
            if !key.starts_with(&prefix) {
                break;
            }
            let Some(execution) = keys::execution_of(&key, prefix.len()) else {
                break;
            };
            executions.push(execution);
            match execution.checked_add(1) {
                Some(next) => from = keys::history_execution_prefix(instance, next),
                None => break,
            }
        }
        Ok(executions)
    }

    fn list_instances_now(&self) -> Result<Vec<String>, ProviderError> {
        self.inner
            .trees
            .instances
            .iter()
            .keys()
            .map(|k| {
                k.map(|k| String::from_utf8_lossy(&k).into_owned())
                    .map_err(storage)
            })
            .collect()
    }

    /// Locks `instance` for deletion and returns its pending message sequence numbers. A turn
    /// in progress (for instance one dropping a late message after completion) is waited for,
    /// up to [`DELETE_LOCK_WAIT`], rather than refused at once.
    async fn lock_for_delete(&self, instance: &str, token: u64) -> Result<Vec<u64>, ProviderError> {
        let deadline = Instant::now() + DELETE_LOCK_WAIT;
        loop {
            // Registered before the check, so a release between check and wait is not missed.
            let released = self.inner.orch_notify.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut index = self.index();
                if index
                    .orch
                    .lock_for_delete(instance, token, now_ms())
                    .is_ok()
                {
                    return Ok(index.orch.pending_of(instance));
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ProviderError::Storage(format!(
                    "instance '{instance}' has been in the middle of a turn for {DELETE_LOCK_WAIT:?}; try again"
                )));
            }
            let _ = tokio::time::timeout(remaining, released).await;
        }
    }

    fn read_instance(&self, instance: &str) -> Result<Option<InstanceInfo>, ProviderError> {
        match self
            .inner
            .trees
            .instances
            .get(keys::instance(instance))
            .map_err(storage)?
        {
            Some(bytes) => codec::decode(&bytes)
                .map(Some)
                .map_err(|e| corrupt(format!("instance record '{instance}'"), e)),
            None => Ok(None),
        }
    }
}

/// Gives a lock back (visible again at once) if a fetch does not get as far as handing out
/// what it locked: keeps the fetches cancel-safe across their own await (the write of the
/// delivery count).
struct LockGuard<'a> {
    store: &'a SledProvider,
    token: u64,
    queue: GuardedQueue,
}

enum GuardedQueue {
    Orch,
    Work,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let now = now_ms();
        match self.queue {
            GuardedQueue::Orch => {
                let _ = self.store.index().orch.abandon(self.token, now, 0);
                self.store.inner.orch_notify.notify_waiters();
            }
            GuardedQueue::Work => {
                let _ = self.store.index().work.abandon(self.token, now, 0);
                self.store.inner.work_notify.notify_waiters();
            }
        }
    }
}

#[async_trait]
impl Provider for SledProvider {
    async fn fetch_orchestration_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<OrchestrationItem>, ProviderError> {
        let lock_ms = millis(lock_timeout);
        let claimed = self
            .claim(&self.inner.orch_notify, wait, |index, token| {
                (
                    index.orch.fetch(now_ms(), lock_ms, token),
                    index.orch.next_due(),
                )
            })
            .await;
        let Some((fetched, token)) = claimed else {
            return Ok(None);
        };
        if fetched.persist {
            // The count is durable before the turn runs, so a turn that takes its process
            // down is counted too (see `recover_orch_attempts`). Until the item is handed
            // out, dropping this future (or failing) gives the instance back at once.
            let guard = LockGuard {
                store: self,
                token,
                queue: GuardedQueue::Orch,
            };
            let count = encode("orchestration delivery count", &fetched.attempt)?;
            let ops = vec![Op::Put(
                TreeId::OrchAttempts,
                keys::instance(&fetched.instance),
                count,
            )];
            self.submit(ops, Vec::new(), Effects::default()).await?;
            std::mem::forget(guard);
        }
        match self.load_orchestration_item(fetched.instance, token, fetched.seqs, fetched.attempt) {
            Ok(item) => Ok(Some(item)),
            Err(e) => {
                // Keep the instance out of the way for a while rather than spin on it.
                let _ = self
                    .index()
                    .orch
                    .abandon(token, now_ms(), UNREADABLE_BACKOFF_MS);
                Err(e)
            }
        }
    }

    async fn ack_orchestration_item(
        &self,
        lock_token: &LockToken,
        commit: TurnCommit,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        let (instance, delivered, count_is_durable) = {
            let mut index = self.index();
            let (instance, delivered) = index
                .orch
                .begin_commit(token, now_ms())
                .map_err(|_| ProviderError::LockLost)?;
            let durable = index.orch.count_is_durable(&instance);
            (instance, delivered, durable)
        };
        let mut effects = Effects {
            release_orch_lock: Some(token),
            ..Effects::default()
        };
        let built = (|| -> Result<(Vec<Op>, Vec<(Vec<u8>, String)>), ProviderError> {
            let mut ops = Vec::new();
            if let Some(record) = &commit.instance {
                if record.instance != instance {
                    return Err(ProviderError::Invalid(format!(
                        "turn of '{instance}' tried to write the record of '{}'",
                        record.instance
                    )));
                }
                ops.push(Op::Put(
                    TreeId::Instances,
                    keys::instance(&instance),
                    encode("instance record", record)?,
                ));
                effects.changed.push(instance.clone());
            }
            let mut absent = Vec::new();
            for event in &commit.history {
                ops.push(Op::Put(
                    TreeId::History,
                    keys::history(&instance, commit.execution_id, event.event_id),
                    encode("history event", event)?,
                ));
            }
            for child in &commit.new_instances {
                let key = keys::instance(&child.instance);
                ops.push(Op::Put(
                    TreeId::Instances,
                    key.clone(),
                    encode("instance record", child)?,
                ));
                absent.push((key, child.instance.clone()));
                effects.changed.push(child.instance.clone());
            }
            for seq in &delivered {
                ops.push(Op::Delete(TreeId::OrchQueue, keys::seq(*seq).to_vec()));
                effects.orch_removed.push((instance.clone(), *seq));
            }
            if count_is_durable {
                // The turn made progress: its instance's delivery count starts again.
                ops.push(Op::Delete(TreeId::OrchAttempts, keys::instance(&instance)));
            }
            for queued in &commit.orchestrator_messages {
                self.enqueue_op(
                    &queued.message,
                    queued.visible_at_ms,
                    &mut ops,
                    &mut effects,
                )?;
            }
            for item in &commit.work_items {
                let seq = self.next_seq();
                let entry = WorkEntry {
                    visible_at_ms: 0,
                    item: item.clone(),
                };
                ops.push(Op::Put(
                    TreeId::WorkQueue,
                    keys::seq(seq).to_vec(),
                    encode("work item", &entry)?,
                ));
                effects.work_added.push((seq, 0));
            }
            Ok((ops, absent))
        })();
        match built {
            Ok((ops, absent)) => self.submit(ops, absent, effects).await,
            Err(e) => {
                self.index().orch.release_uncounted(token);
                Err(e)
            }
        }
    }

    async fn abandon_orchestration_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        self.index()
            .orch
            .abandon(token, now_ms(), delay.map(millis).unwrap_or(0))
            .map_err(|_| ProviderError::LockLost)?;
        self.inner.orch_notify.notify_waiters();
        Ok(())
    }

    async fn renew_orchestration_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        self.index()
            .orch
            .renew(token, now_ms(), millis(lock_timeout))
            .map_err(|_| ProviderError::LockLost)
    }

    async fn fetch_work_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<WorkItemLease>, ProviderError> {
        let lock_ms = millis(lock_timeout);
        let claimed = self
            .claim(&self.inner.work_notify, wait, |index, token| {
                (
                    index.work.fetch(now_ms(), lock_ms, token),
                    index.work.next_due(),
                )
            })
            .await;
        let Some(((seq, attempt), token)) = claimed else {
            return Ok(None);
        };
        // The delivery is counted durably before the activity runs, so the poison limit also
        // catches an activity that takes the whole process down with it. Until the lease is
        // handed out, dropping this future (or failing) gives the item back at once.
        let guard = LockGuard {
            store: self,
            token,
            queue: GuardedQueue::Work,
        };
        let count = encode("work item delivery count", &attempt)?;
        let ops = vec![Op::Put(
            TreeId::WorkAttempts,
            keys::seq(seq).to_vec(),
            count,
        )];
        self.submit(ops, Vec::new(), Effects::default()).await?;
        std::mem::forget(guard);
        let loaded = self
            .inner
            .trees
            .work
            .get(keys::seq(seq))
            .map_err(storage)
            .and_then(|bytes| {
                let bytes = bytes
                    .ok_or_else(|| ProviderError::Storage(format!("work item {seq} vanished")))?;
                codec::decode::<WorkEntry>(&bytes)
                    .map_err(|e| corrupt(format!("work_queue item {seq}"), e))
            });
        match loaded {
            Ok(entry) => Ok(Some(WorkItemLease {
                item: entry.item,
                lock_token: LockToken(token.to_string()),
                attempt,
            })),
            Err(e) => {
                let _ = self
                    .index()
                    .work
                    .abandon(token, now_ms(), UNREADABLE_BACKOFF_MS);
                Err(e)
            }
        }
    }

    async fn ack_work_item(
        &self,
        lock_token: &LockToken,
        completion: Option<OrchestratorMessage>,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        let seq = self
            .index()
            .work
            .begin_commit(token, now_ms())
            .map_err(|_| ProviderError::LockLost)?;
        let mut ops = vec![
            Op::Delete(TreeId::WorkQueue, keys::seq(seq).to_vec()),
            Op::Delete(TreeId::WorkAttempts, keys::seq(seq).to_vec()),
        ];
        let mut effects = Effects {
            work_removed: vec![seq],
            abort_work_lock: Some(token),
            ..Effects::default()
        };
        if let Some(message) = &completion {
            if let Err(e) = self.enqueue_op(message, 0, &mut ops, &mut effects) {
                self.index().work.abort_commit(token, now_ms());
                return Err(e);
            }
        }
        self.submit(ops, Vec::new(), effects).await
    }

    async fn renew_work_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        self.index()
            .work
            .renew(token, now_ms(), millis(lock_timeout))
            .map_err(|_| ProviderError::LockLost)
    }

    async fn abandon_work_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let token = parse_token(lock_token)?;
        self.index()
            .work
            .abandon(token, now_ms(), delay.map(millis).unwrap_or(0))
            .map_err(|_| ProviderError::LockLost)?;
        self.inner.work_notify.notify_waiters();
        Ok(())
    }

    async fn create_instance(
        &self,
        info: InstanceInfo,
        start: OrchestratorMessage,
    ) -> Result<(), ProviderError> {
        if info.instance.is_empty() {
            return Err(ProviderError::Invalid("instance id is empty".into()));
        }
        let key = keys::instance(&info.instance);
        let mut ops = vec![Op::Put(
            TreeId::Instances,
            key.clone(),
            encode("instance record", &info)?,
        )];
        let mut effects = Effects {
            changed: vec![info.instance.clone()],
            ..Effects::default()
        };
        self.enqueue_op(&start, 0, &mut ops, &mut effects)?;
        self.submit(ops, vec![(key, info.instance.clone())], effects)
            .await
    }

    async fn enqueue_orchestrator_message(
        &self,
        message: OrchestratorMessage,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let visible = delay
            .map(|d| now_ms().saturating_add(millis(d)))
            .unwrap_or(0);
        let mut ops = Vec::new();
        let mut effects = Effects::default();
        self.enqueue_op(&message, visible, &mut ops, &mut effects)?;
        self.submit(ops, Vec::new(), effects).await
    }

    // Reads settle on the read barrier after reading, so they never report a commit that a
    // crash could still undo (see `read_barrier.rs`).
    async fn get_instance(&self, instance: &str) -> Result<Option<InstanceInfo>, ProviderError> {
        let result = self.read_instance(instance);
        self.inner.barrier.settle().await;
        result
    }

    async fn read_history(
        &self,
        instance: &str,
        execution_id: u64,
    ) -> Result<Vec<Event>, ProviderError> {
        let result = self.read_history_now(instance, execution_id);
        self.inner.barrier.settle().await;
        result
    }

    async fn list_executions(&self, instance: &str) -> Result<Vec<u64>, ProviderError> {
        let result = self.list_executions_now(instance);
        self.inner.barrier.settle().await;
        result
    }

    async fn list_instances(&self) -> Result<Vec<String>, ProviderError> {
        let result = self.list_instances_now();
        self.inner.barrier.settle().await;
        result
    }

    async fn delete_instance(&self, instance: &str) -> Result<(), ProviderError> {
        let token = self.next_token();
        let pending = self.lock_for_delete(instance, token).await?;
        let mut ops = vec![
            Op::Delete(TreeId::Instances, keys::instance(instance)),
            Op::Delete(TreeId::OrchAttempts, keys::instance(instance)),
        ];
        let mut effects = Effects {
            release_orch_lock: Some(token),
            changed: vec![instance.to_string()],
            ..Effects::default()
        };
        for seq in pending {
            ops.push(Op::Delete(TreeId::OrchQueue, keys::seq(seq).to_vec()));
            effects.orch_removed.push((instance.to_string(), seq));
        }
        for key in self
            .inner
            .trees
            .history
            .scan_prefix(keys::history_instance_prefix(instance))
            .keys()
        {
            ops.push(Op::Delete(TreeId::History, key.map_err(storage)?.to_vec()));
        }
        self.submit(ops, Vec::new(), effects).await
    }

    async fn delete_executions(
        &self,
        instance: &str,
        execution_ids: &[u64],
    ) -> Result<(), ProviderError> {
        let mut ops = Vec::new();
        for &execution in execution_ids {
            for key in self
                .inner
                .trees
                .history
                .scan_prefix(keys::history_execution_prefix(instance, execution))
                .keys()
            {
                ops.push(Op::Delete(TreeId::History, key.map_err(storage)?.to_vec()));
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.submit(ops, Vec::new(), Effects::default()).await
    }

    fn instance_watch(&self) -> Option<Arc<InstanceWatch>> {
        Some(Arc::clone(&self.inner.watch))
    }
}
