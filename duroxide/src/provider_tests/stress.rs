//! Many instances and many concurrent holders: every message is consumed exactly once and
//! no instance is ever held by two turns at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::fixtures::*;
use crate::providers::{OrchestratorMessage, Provider};

/// 100 instances with 5 messages each, consumed by 8 concurrent fetch/ack loops.
pub async fn many_instances_many_workers_each_turn_once(store: Arc<dyn Provider>) {
    const INSTANCES: usize = 100;
    const EVENTS: usize = 4;
    for i in 0..INSTANCES {
        let id = format!("s{i}");
        store
            .create_instance(record(&id), start(&id))
            .await
            .expect("create");
        for e in 0..EVENTS {
            store
                .enqueue_orchestrator_message(event_msg(&id, &e.to_string()), None)
                .await
                .expect("enqueue");
        }
    }
    let held: Arc<Mutex<HashSet<String>>> = Arc::default();
    let consumed: Arc<Mutex<BTreeMap<String, Vec<OrchestratorMessage>>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (store, held, consumed) =
            (Arc::clone(&store), Arc::clone(&held), Arc::clone(&consumed));
        workers.push(tokio::spawn(async move {
            while let Some(item) = store
                .fetch_orchestration_item(LONG_LOCK, Duration::from_millis(200))
                .await
                .expect("fetch")
            {
                assert!(
                    held.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(item.instance.clone()),
                    "instance {} handed to two holders at once",
                    item.instance
                );
                tokio::task::yield_now().await;
                consumed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(item.instance.clone())
                    .or_default()
                    .extend(item.messages.clone());
                held.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&item.instance);
                let history = store
                    .read_history(&item.instance, 1)
                    .await
                    .expect("history");
                let next_id = history.len() as u64 + 1;
                let mut c = commit(&item.instance, history);
                c.history = vec![event(
                    next_id,
                    crate::history::EventKind::ExternalEvent {
                        name: "E".into(),
                        data: String::new(),
                    },
                )];
                if let Some(info) = c.instance.as_mut() {
                    info.history_len = next_id;
                }
                store
                    .ack_orchestration_item(&item.lock_token, c)
                    .await
                    .expect("ack");
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let consumed = consumed.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(consumed.len(), INSTANCES);
    for (id, messages) in consumed.iter() {
        let mut expected = vec![start(id)];
        expected.extend((0..EVENTS).map(|e| event_msg(id, &e.to_string())));
        assert_eq!(
            messages, &expected,
            "messages of {id} consumed exactly once, in order"
        );
    }
}
