//! [`InstanceWatch`]: in-process notification that an instance's record changed.
//!
//! A store that knows when it commits (the embedded sled store; a PostgreSQL store through
//! LISTEN/NOTIFY) calls [`InstanceWatch::notify`] after each durable change. Clients waiting
//! for completion and workers watching for cancellation subscribe instead of polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Subscriptions to instance changes, by instance id.
#[derive(Debug, Default)]
pub struct InstanceWatch {
    subscribers: Mutex<HashMap<String, Weak<Notify>>>,
}

/// A subscription to one instance's changes. Create the [`notified`](Self::notified) future
/// and `enable()` it *before* reading the state you wait on, so no change is missed.
#[derive(Debug, Clone)]
pub struct InstanceSubscription {
    notify: Arc<Notify>,
}

impl InstanceSubscription {
    /// A future that resolves at the next change after it was enabled or first polled.
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

impl InstanceWatch {
    /// An empty watch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to changes of `instance`.
    pub fn subscribe(&self, instance: &str) -> InstanceSubscription {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(notify) = subs.get(instance).and_then(Weak::upgrade) {
            return InstanceSubscription { notify };
        }
        // Drop dead entries now and then so the map tracks only live subscriptions.
        if subs.len() >= 64 && subs.len().is_power_of_two() {
            subs.retain(|_, weak| weak.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        subs.insert(instance.to_string(), Arc::downgrade(&notify));
        InstanceSubscription { notify }
    }

    /// Wakes everyone subscribed to `instance`.
    pub fn notify(&self, instance: &str) {
        let notify = {
            let mut subs = self
                .subscribers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match subs.get(instance).map(Weak::upgrade) {
                Some(Some(notify)) => notify,
                Some(None) => {
                    subs.remove(instance);
                    return;
                }
                None => return,
            }
        };
        notify.notify_waiters();
    }
}
