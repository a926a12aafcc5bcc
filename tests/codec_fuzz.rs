//! Fuzzing the record codec and history replay with proptest (bounded, so it runs in CI):
//! no byte string makes the decoder panic or allocate without bound, every record
//! round-trips, and no history, however malformed, makes replay panic.

use std::sync::Arc;

use duroxide::codec::{decode, encode, CodecError, FORMAT_V1};
use duroxide::orchestration::{OrchestrationHandler, ReplayEngine, TurnInput};
use duroxide::providers::{ActivityWorkItem, InstanceInfo, OrchestratorMessage};
use duroxide::{AppErrorKind, ErrorDetails, Event, EventKind, OrchestrationContext};
use proptest::prelude::*;

fn details() -> impl Strategy<Value = ErrorDetails> {
    prop_oneof![
        ".{0,20}".prop_map(ErrorDetails::application),
        (".{0,10}", ".{0,10}", any::<bool>())
            .prop_map(|(o, m, r)| ErrorDetails::infrastructure(o, m, r)),
        ".{0,10}".prop_map(|reason| ErrorDetails::Application {
            kind: AppErrorKind::Cancelled { reason },
            message: String::new(),
            retryable: false
        }),
    ]
}

fn kind() -> impl Strategy<Value = EventKind> {
    let s = || ".{0,12}";
    prop_oneof![
        (s(), s()).prop_map(|(name, input)| EventKind::OrchestrationStarted {
            name,
            version: "1.0.0".into(),
            input,
            parent: None
        }),
        (
            prop_oneof![Just("A".to_string()), Just("B".to_string())],
            s()
        )
            .prop_map(|(name, input)| EventKind::ActivityScheduled { name, input }),
        (0u64..12, s()).prop_map(|(source_event_id, result)| EventKind::ActivityCompleted {
            source_event_id,
            result
        }),
        (0u64..12, details()).prop_map(|(source_event_id, details)| EventKind::ActivityFailed {
            source_event_id,
            details
        }),
        any::<u64>().prop_map(|fire_at_ms| EventKind::TimerCreated { fire_at_ms }),
        (0u64..12, any::<u64>()).prop_map(|(source_event_id, fire_at_ms)| EventKind::TimerFired {
            source_event_id,
            fire_at_ms
        }),
        prop_oneof![Just("E".to_string()), s()]
            .prop_map(|name| EventKind::ExternalSubscribed { name }),
        (prop_oneof![Just("E".to_string()), s()], s())
            .prop_map(|(name, data)| EventKind::ExternalEvent { name, data }),
        (s(), s(), s()).prop_map(
            |(name, instance, input)| EventKind::SubOrchestrationScheduled {
                name,
                version: None,
                instance,
                input
            }
        ),
        (0u64..12, s()).prop_map(|(source_event_id, result)| {
            EventKind::SubOrchestrationCompleted {
                source_event_id,
                result,
            }
        }),
        s().prop_map(|reason| EventKind::OrchestrationCancelRequested { reason }),
        s().prop_map(|output| EventKind::OrchestrationCompleted { output }),
        details().prop_map(|details| EventKind::OrchestrationFailed { details }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), any::<u64>(), kind()).prop_map(|(event_id, timestamp_ms, kind)| Event {
        event_id,
        timestamp_ms,
        kind,
    })
}

/// An orchestration using every primitive, so replay exercises matching of each kind.
fn busy_orchestration() -> OrchestrationHandler {
    Arc::new(|ctx: OrchestrationContext, input: String| {
        Box::pin(async move {
            let a = ctx.schedule_activity("A", input.clone());
            let t = ctx.schedule_timer(std::time::Duration::from_secs(1));
            let first = ctx.select2(a, t).await;
            let e = ctx.schedule_wait("E").await;
            let _ = ctx.new_guid();
            let b = ctx
                .join(vec![
                    ctx.schedule_activity("B", e),
                    ctx.schedule_activity("A", "x"),
                ])
                .await;
            Ok(format!("{first:?}{b:?}"))
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<Event>(&bytes);
        let _ = decode::<InstanceInfo>(&bytes);
        let _ = decode::<OrchestratorMessage>(&bytes);
        let _ = decode::<ActivityWorkItem>(&bytes);
    }

    #[test]
    fn fuzz_decoding_with_valid_format_byte_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![FORMAT_V1];
        bytes.extend(body);
        let _ = decode::<Event>(&bytes);
        let _ = decode::<OrchestratorMessage>(&bytes);
    }

    #[test]
    fn fuzz_events_round_trip_and_truncations_fail_cleanly(ev in event()) {
        let bytes = encode(&ev).unwrap();
        prop_assert_eq!(decode::<Event>(&bytes).unwrap(), ev);
        for cut in 0..bytes.len() {
            prop_assert!(decode::<Event>(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn fuzz_flipped_bytes_decode_to_error_or_some_event(ev in event(), at in any::<usize>(), flip in 1u8..=255) {
        let mut bytes = encode(&ev).unwrap();
        let i = at % bytes.len();
        bytes[i] ^= flip;
        match decode::<Event>(&bytes) {
            Ok(_) | Err(CodecError::Malformed(_) | CodecError::TrailingBytes(_) | CodecError::UnknownFormat(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn fuzz_replaying_arbitrary_histories_never_panics(
        events in proptest::collection::vec(event(), 0..14),
        renumber in any::<bool>(),
        inputs in proptest::collection::vec((0u64..14, ".{0,6}"), 0..4),
    ) {
        let mut history = events;
        if renumber {
            for (i, e) in history.iter_mut().enumerate() {
                e.event_id = i as u64 + 1;
            }
        }
        let handler = busy_orchestration();
        if let Ok(mut engine) = ReplayEngine::resume("fuzz", 1, &history, &handler) {
            let inputs = inputs
                .into_iter()
                .map(|(id, result)| TurnInput::ActivityCompleted { id, result })
                .collect();
            let outcome = engine.turn(inputs, 1);
            // Whatever happened, the new events continue the history's numbering.
            for (i, e) in outcome.new_events.iter().enumerate() {
                prop_assert_eq!(e.event_id, history.len() as u64 + 1 + i as u64);
            }
        }
    }
}

#[test]
fn fuzz_huge_length_prefix_is_rejected_without_allocating() {
    // Records whose string length claims 4 TiB: decoding must fail fast. Had the decoder
    // tried to allocate the claimed length, this test would abort the process.
    let huge = |prefix: &[u8]| {
        let mut bytes = vec![FORMAT_V1];
        bytes.extend_from_slice(prefix);
        bytes.push(0xfd); // varint marker: a u64 follows
        bytes.extend_from_slice(&(1u64 << 42).to_le_bytes());
        bytes
    };
    // Event { event_id: 1, timestamp_ms: 1, kind: ActivityScheduled (variant 1) { name: <huge> } }
    assert!(matches!(
        decode::<Event>(&huge(&[1, 1, 1])),
        Err(CodecError::Malformed(_))
    ));
    // OrchestratorMessage::StartOrchestration (variant 0) { instance: <huge> }
    assert!(matches!(
        decode::<OrchestratorMessage>(&huge(&[0])),
        Err(CodecError::Malformed(_))
    ));
}
