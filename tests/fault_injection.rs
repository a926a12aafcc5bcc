//! The runtime on an unreliable store (`FaultyProvider`): retryable faults are retried,
//! what cannot be retried is classified, history is never corrupted, nothing wedges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duroxide::provider_tests::{FaultPlan, FaultPoint, FaultyProvider};
use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, Event, EventKind, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, ProviderError, Runtime, RuntimeOptions,
};
use duroxide_tests::{init_tracing, test_options, WAIT};

type Executions = Arc<Mutex<HashMap<(String, u64), usize>>>;

fn activities(executions: Executions) -> ActivityRegistry {
    ActivityRegistry::builder()
        .register("Double", move |ctx: ActivityContext, input: String| {
            let executions = executions.clone();
            async move {
                *executions
                    .lock()
                    .unwrap()
                    .entry((ctx.instance_id().to_string(), ctx.activity_id()))
                    .or_default() += 1;
                let n: u64 = input.parse().map_err(|e| format!("{e}"))?;
                Ok((n * 2).to_string())
            }
        })
        .build()
}

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Child",
            |ctx: OrchestrationContext, input: String| async move {
                ctx.schedule_activity("Double", input).await
            },
        )
        .register(
            "Mixed",
            |ctx: OrchestrationContext, input: String| async move {
                // A chain, a fan-out, a durable timer and a sub-orchestration.
                let mut n = input;
                for _ in 0..3 {
                    n = ctx.schedule_activity("Double", n).await?;
                }
                let fan = (0..4)
                    .map(|i| ctx.schedule_activity("Double", i.to_string()))
                    .collect();
                let fanned: Result<Vec<String>, String> = ctx.join(fan).await.into_iter().collect();
                ctx.schedule_timer(Duration::from_millis(20)).await;
                let child = ctx.schedule_sub_orchestration("Child", n.clone()).await?;
                Ok(format!("{n}|{}|{child}", fanned?.join(",")))
            },
        )
        .build()
}

/// Every history must be well formed: ids 1..=n, each decision completed at most once.
fn assert_history_sound(instance: &str, history: &[Event]) {
    let mut completed: HashMap<u64, usize> = HashMap::new();
    for (i, event) in history.iter().enumerate() {
        assert_eq!(
            event.event_id,
            i as u64 + 1,
            "{instance}: event ids must be contiguous"
        );
        match &event.kind {
            EventKind::ActivityCompleted {
                source_event_id, ..
            }
            | EventKind::ActivityFailed {
                source_event_id, ..
            }
            | EventKind::TimerFired {
                source_event_id, ..
            }
            | EventKind::SubOrchestrationCompleted {
                source_event_id, ..
            }
            | EventKind::SubOrchestrationFailed {
                source_event_id, ..
            } => {
                *completed.entry(*source_event_id).or_default() += 1;
                assert!(
                    history[(*source_event_id - 1) as usize].kind.is_decision(),
                    "{instance}: completion points at a decision"
                );
            }
            _ => {}
        }
    }
    for (source, count) in completed {
        assert_eq!(
            count, 1,
            "{instance}: decision {source} completed {count} times"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_runtime_survives_an_unreliable_store() {
    init_tracing();
    let sled = Arc::new(SledProvider::new_in_memory().await.unwrap());
    let plan = FaultPlan::new(7)
        .fail_everywhere(0.15)
        .delay(0.1, Duration::from_millis(10));
    let faulty = Arc::new(FaultyProvider::new(sled.clone(), plan));
    let executions = Executions::default();
    let rt = Runtime::start_with_options(
        faulty.clone() as Arc<dyn Provider>,
        activities(executions.clone()),
        orchestrations(),
        test_options(),
    )
    .await;
    // The client is not under test: it talks to the reliable store underneath.
    let client = Client::new(sled.clone());
    let instances: Vec<String> = (0..30).map(|i| format!("mixed-{i}")).collect();
    for (i, id) in instances.iter().enumerate() {
        client
            .start_orchestration(id, "Mixed", (i + 1).to_string())
            .await
            .unwrap();
    }
    for (i, id) in instances.iter().enumerate() {
        let n = (i as u64 + 1) * 8;
        let expected = format!("{n}|0,2,4,6|{}", n * 2);
        assert_eq!(
            client.wait_for_orchestration(id, WAIT).await.unwrap(),
            OrchestrationStatus::Completed { output: expected },
            "{id}"
        );
    }
    rt.shutdown(None).await;

    for point in [
        FaultPoint::FetchOrchestration,
        FaultPoint::AckOrchestrationBefore,
        FaultPoint::AckOrchestrationAfter,
        FaultPoint::FetchWork,
        FaultPoint::AckWorkBefore,
        FaultPoint::AckWorkAfter,
        FaultPoint::GetInstance,
    ] {
        assert!(
            faulty.injected(point) > 0,
            "no fault injected at {point:?}: the test proves nothing"
        );
    }
    for id in client.list_instances().await.unwrap() {
        for execution in client.list_executions(&id).await.unwrap() {
            assert_history_sound(
                &id,
                &client.read_execution_history(&id, execution).await.unwrap(),
            );
        }
    }
    // Every activity whose result is in history ran at least once (at-least-once).
    let mut recorded = Vec::new();
    for id in client.list_instances().await.unwrap() {
        recorded.push((id.clone(), client.read_history(&id).await.unwrap()));
    }
    let executions = executions.lock().unwrap();
    for (id, history) in recorded {
        for event in history {
            if let EventKind::ActivityCompleted {
                source_event_id, ..
            } = event.kind
            {
                assert!(
                    executions.contains_key(&(id.clone(), source_event_id)),
                    "{id}/{source_event_id} never ran"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_unreadable_history_fails_the_instance_as_infrastructure() {
    init_tracing();
    let sled = Arc::new(SledProvider::new_in_memory().await.unwrap());
    let plan = FaultPlan::new(1)
        .fail(FaultPoint::ReadHistory, 1.0)
        .with_error(ProviderError::Corrupt {
            what: "history".into(),
            message: "injected".into(),
        });
    let faulty = Arc::new(FaultyProvider::new(sled.clone(), plan));
    // Without the cache every turn after the first reads history.
    let options = RuntimeOptions {
        instance_cache_capacity: 0,
        ..test_options()
    };
    let rt = Runtime::start_with_options(
        faulty.clone() as Arc<dyn Provider>,
        activities(Executions::default()),
        orchestrations(),
        options,
    )
    .await;
    let client = Client::new(sled.clone());
    client
        .start_orchestration("corrupt-1", "Child", "1")
        .await
        .unwrap();
    match client
        .wait_for_orchestration("corrupt-1", WAIT)
        .await
        .unwrap()
    {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "infrastructure");
            assert!(!details.is_retryable());
            assert!(
                details.display_message().contains("injected"),
                "{}",
                details.display_message()
            );
        }
        other => panic!("expected an infrastructure failure, got {other:?}"),
    }
    // The history itself was left as it was: the instance's first turn is still there.
    let history = client.read_history("corrupt-1").await.unwrap();
    assert_eq!(history[0].kind.name(), "OrchestrationStarted");
    assert!(faulty.injected(FaultPoint::ReadHistory) >= 1);
    rt.shutdown(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_retryable_read_errors_never_wedge_an_instance() {
    init_tracing();
    let sled = Arc::new(SledProvider::new_in_memory().await.unwrap());
    let plan = FaultPlan::new(3).fail(FaultPoint::ReadHistory, 0.5);
    let faulty = Arc::new(FaultyProvider::new(sled.clone(), plan));
    let options = RuntimeOptions {
        instance_cache_capacity: 0,
        ..test_options()
    };
    let rt = Runtime::start_with_options(
        faulty.clone() as Arc<dyn Provider>,
        activities(Executions::default()),
        orchestrations(),
        options,
    )
    .await;
    let client = Client::new(sled.clone());
    for i in 0..5 {
        client
            .start_orchestration(format!("retry-{i}"), "Mixed", "1")
            .await
            .unwrap();
    }
    for i in 0..5 {
        assert_eq!(
            client
                .wait_for_orchestration(format!("retry-{i}"), WAIT)
                .await
                .unwrap(),
            OrchestrationStatus::Completed {
                output: "8|0,2,4,6|16".into()
            }
        );
    }
    assert!(faulty.injected(FaultPoint::ReadHistory) > 0);
    rt.shutdown(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_activity_delivered_too_often_is_poison() {
    init_tracing();
    let executions = Executions::default();
    // With a budget of zero deliveries, the first delivery is already one too many: the
    // activity must not run, and the instance fails with a Poison error.
    let options = RuntimeOptions {
        max_activity_deliveries: 0,
        ..test_options()
    };
    let h = duroxide_tests::Harness::start_with(
        activities(executions.clone()),
        orchestrations(),
        options,
    )
    .await;
    match h.run("poison-1", "Child", "1").await {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "poison");
            assert!(!details.is_retryable());
            assert!(
                details.display_message().contains("Double"),
                "{}",
                details.display_message()
            );
        }
        other => panic!("expected a poison failure, got {other:?}"),
    }
    assert!(
        executions.lock().unwrap().is_empty(),
        "a poison activity must not run"
    );
}
