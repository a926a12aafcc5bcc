//! Undecodable records in the sled store: each ends in a classified error or is set aside,
//! never a panic, and never costs unrelated data.

use std::path::Path;
use std::sync::Arc;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ClientError, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus, ProviderError,
};
use duroxide_tests::{test_options, Harness};

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Waits",
            |ctx: OrchestrationContext, input: String| async move {
                let data = ctx.schedule_wait("Go").await;
                Ok(format!("{input}:{data}"))
            },
        )
        .build()
}

async fn open(dir: &Path) -> Arc<SledProvider> {
    Arc::new(SledProvider::new(dir, None).await.expect("open store"))
}

/// Starts two waiting instances in `dir`, then stops everything so the files can be edited.
async fn two_waiting_instances(dir: &Path) {
    let mut h = Harness::start_on(
        open(dir).await,
        ActivityRegistry::default(),
        orchestrations(),
        test_options(),
    )
    .await;
    for id in ["victim", "bystander"] {
        h.client.start_orchestration(id, "Waits", id).await.unwrap();
    }
    for id in ["victim", "bystander"] {
        duroxide_tests::until_instance(&h.store, id, "waiting", || {
            duroxide_tests::history_has(&h.client, id, "ExternalSubscribed")
        })
        .await;
    }
    h.stop().await;
}

/// Edits the raw sled database (the store must be closed). Like `SledProvider::new`, it
/// waits for sled's background threads of the just-dropped store to let go of the lock.
fn with_raw_db(dir: &Path, edit: impl FnOnce(&sled::Db)) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let db = loop {
        match sled::open(dir) {
            Ok(db) => break db,
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(
                    e.to_string().contains("could not acquire lock"),
                    "raw open: {e}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("raw open: {e}"),
        }
    };
    edit(&db);
    db.flush().expect("flush");
}

fn history_key(instance: &str, execution: u64, event: u64) -> Vec<u8> {
    let mut key = (instance.len() as u32).to_be_bytes().to_vec();
    key.extend_from_slice(instance.as_bytes());
    key.extend_from_slice(&execution.to_be_bytes());
    key.extend_from_slice(&event.to_be_bytes());
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_corrupt_history_fails_only_its_instance() {
    let dir = tempfile::tempdir().unwrap();
    two_waiting_instances(dir.path()).await;
    let mut original = None;
    with_raw_db(dir.path(), |db| {
        let history = db.open_tree("history").unwrap();
        let key = history_key("victim", 1, 2);
        original = history.get(&key).unwrap();
        history
            .insert(key, &b"\x01\xff\xff\xff garbage"[..])
            .unwrap();
    });

    let h = Harness::start_on(
        open(dir.path()).await,
        ActivityRegistry::default(),
        orchestrations(),
        test_options(),
    )
    .await;
    h.client.raise_event("victim", "Go", "x").await.unwrap();
    h.client.raise_event("bystander", "Go", "y").await.unwrap();
    match h.wait("victim").await {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "infrastructure");
            assert!(!details.is_retryable());
            assert!(
                details.display_message().contains("victim"),
                "{}",
                details.display_message()
            );
        }
        other => panic!("expected an infrastructure failure, got {other:?}"),
    }
    assert_eq!(
        h.wait("bystander").await,
        OrchestrationStatus::Completed {
            output: "bystander:y".into()
        }
    );
    // The corrupt record is reported, not rewritten: reading it still says what is wrong.
    match h.client.read_history("victim").await {
        Err(ClientError::Provider(ProviderError::Corrupt { what, .. })) => {
            assert!(what.contains("victim"), "{what}")
        }
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    assert!(original.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_undecodable_queue_messages_are_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    two_waiting_instances(dir.path()).await;
    with_raw_db(dir.path(), |db| {
        db.open_tree("orch_queue")
            .unwrap()
            .insert(u64::MAX.to_be_bytes(), &b"\x01not a message"[..])
            .unwrap();
        db.open_tree("work_queue")
            .unwrap()
            .insert((u64::MAX - 1).to_be_bytes(), &b"\x09unknown format"[..])
            .unwrap();
    });
    let store = open(dir.path()).await;
    assert_eq!(
        store.dead_letter_count(),
        2,
        "both bad records are kept aside, bytes intact"
    );
    let h = Harness::start_on(
        store,
        ActivityRegistry::default(),
        orchestrations(),
        test_options(),
    )
    .await;
    h.client.raise_event("victim", "Go", "1").await.unwrap();
    h.client.raise_event("bystander", "Go", "2").await.unwrap();
    assert_eq!(
        h.wait("victim").await,
        OrchestrationStatus::Completed {
            output: "victim:1".into()
        }
    );
    assert_eq!(
        h.wait("bystander").await,
        OrchestrationStatus::Completed {
            output: "bystander:2".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_corrupt_instance_record_is_a_classified_client_error() {
    let dir = tempfile::tempdir().unwrap();
    two_waiting_instances(dir.path()).await;
    with_raw_db(dir.path(), |db| {
        db.open_tree("instances")
            .unwrap()
            .insert("victim", &b"\x01\x00"[..])
            .unwrap();
    });
    let h = Harness::start_on(
        open(dir.path()).await,
        ActivityRegistry::default(),
        orchestrations(),
        test_options(),
    )
    .await;
    match h.client.get_orchestration_status("victim").await {
        Err(ClientError::Provider(ProviderError::Corrupt { what, .. })) => {
            assert!(what.contains("victim"))
        }
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    h.client.raise_event("bystander", "Go", "ok").await.unwrap();
    assert_eq!(
        h.wait("bystander").await,
        OrchestrationStatus::Completed {
            output: "bystander:ok".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_flipped_bytes_in_a_copy_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    two_waiting_instances(dir.path()).await;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..6 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        // Even rounds flip bytes of the data file only (sled then usually opens and we read
        // what it gives us); odd rounds flip every file (sled usually refuses to open).
        let all = files(copy.path());
        let targets: Vec<_> = if round % 2 == 0 {
            all.into_iter().filter(|f| f.ends_with("db")).collect()
        } else {
            all
        };
        for file in targets {
            let mut bytes = std::fs::read(&file).unwrap();
            if bytes.is_empty() {
                continue;
            }
            for _ in 0..(1 + round) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = (rng as usize) % bytes.len();
                bytes[at] ^= 0x5a;
            }
            std::fs::write(&file, bytes).unwrap();
        }
        let path = copy.path().to_path_buf();
        // Run in a task so a panic anywhere would surface as a JoinError, not abort the test.
        let outcome = tokio::spawn(async move {
            let Ok(store) = SledProvider::new(&path, None).await else {
                return "refused to open";
            };
            let client = duroxide::Client::new(Arc::new(store));
            let Ok(ids) = client.list_instances().await else {
                return "listing failed";
            };
            for id in ids {
                let _ = client.get_orchestration_status(&id).await;
                let _ = client.read_history(&id).await;
            }
            "opened"
        })
        .await;
        assert!(
            outcome.is_ok(),
            "round {round}: a corrupted store made duroxide panic: {outcome:?}"
        );
    }
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
