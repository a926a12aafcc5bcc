//! Typed calls over the [`Activity`] and [`Orchestration`] traits, and the payload rules
//! that make them interoperate with the by-name (string) API.
//!
//! The stubs that `#[activity]` and `#[orchestration]` generate (`charge::schedule(&ctx, ..)`,
//! `checkout::start(&client, ..)`, ...) are one-line calls of the functions here, so a
//! hand-written definition gets the same typed calls: `typed::schedule::<Charge>(&ctx, (42, 1999))`.
//!
//! # Payload rules
//!
//! History stores strings. A typed definition encodes them as follows, and a by-name caller
//! or handler that follows the same rules interoperates in both directions.
//!
//! | what | payload |
//! |---|---|
//! | input (the arguments after the context) | a JSON array with one element per argument: `[42,1999]`; one argument is a one-element array, `["Rust"]`; no arguments is `null` (an empty payload is read as `null` too) |
//! | `Ok(value)` | the JSON of the value: `"Hello"`, `{"id":7}`, `null` for `()` |
//! | `Err(error)` | the JSON of the error, except that an error whose JSON is a string travels *unquoted*: `Err("card declined".to_string())` is the payload `card declined`. (Only when the unquoted text would itself read back as a different error, e.g. the message `"x"` with its quotes, does it stay quoted.) |
//!
//! Reading an `Err` payload back tries the JSON of `E` first and then the payload as a
//! plain string, so with `E = String` every failure message arrives as `Err(message)`:
//! the activity's own error, a panic message, a decode failure. With another `E`, a
//! failure whose text is not an `E` (an activity panic, a cancelled child, an input from a
//! caller with other types) cannot be delivered as `Err(E)`: it fails the calling
//! orchestration (a panic naming the call, the expected type and the text), and
//! [`wait`] reports it as [`WaitError::Decode`].
//!
//! ```
//! use duroxide::typed;
//!
//! // What a by-name caller sends to `#[activity] async fn charge(ctx, order_id: u64, cents: u64)`:
//! assert_eq!(typed::encode_input(&(42u64, 1999u64)).unwrap(), "[42,1999]");
//! assert_eq!(typed::encode_input(&("Rust",)).unwrap(), r#"["Rust"]"#);
//! // What it gets back:
//! assert_eq!(typed::encode_output(&"Hello, Rust!").unwrap(), r#""Hello, Rust!""#);
//! assert_eq!(typed::encode_error(&"card declined".to_string()), "card declined");
//! assert_eq!(typed::decode_error::<String>("card declined").unwrap(), "card declined");
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;

use crate::activity::ActivityContext;
use crate::client::{Client, OrchestrationStatus};
use crate::definition::{Activity, Orchestration};
use crate::error::{AppErrorKind, ClientError, ErrorDetails};
use crate::orchestration::state::Outcome;
use crate::orchestration::{
    DurableFuture, OrchestrationContext, OrchestrationFuture, OrchestrationHandler, RetryPolicy,
};
use crate::registry::{
    ActivityFuture, ActivityHandler, ActivityRegistryBuilder, OrchestrationRegistryBuilder,
};

// ---- payload rules ---------------------------------------------------------------------

/// Encodes an argument tuple as the input payload (a JSON array; `()` is `null`).
pub fn encode_input<In: Serialize + ?Sized>(input: &In) -> Result<String, String> {
    crate::json::encode(input)
}

/// Decodes an input payload into an argument tuple. An empty payload reads as `null`, so a
/// by-name caller may pass `""` to an activity without arguments.
pub fn decode_input<In: DeserializeOwned>(payload: &str) -> Result<In, String> {
    if payload.trim().is_empty() {
        crate::json::decode("null")
    } else {
        crate::json::decode(payload)
    }
}

/// Encodes an `Ok` value (its JSON).
pub fn encode_output<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    crate::json::encode(value)
}

/// Decodes an `Ok` payload.
pub fn decode_output<T: DeserializeOwned>(payload: &str) -> Result<T, String> {
    crate::json::decode(payload)
}

/// Encodes an error: its JSON, unquoted when that JSON is a string (see the module docs).
/// An error that cannot be encoded becomes a message saying so.
pub fn encode_error<E: Serialize + DeserializeOwned>(error: &E) -> String {
    let json = match serde_json::to_string(error) {
        Ok(json) => json,
        Err(e) => {
            return format!(
                "cannot encode error of type {}: {e}",
                std::any::type_name::<E>()
            )
        }
    };
    match serde_json::from_str::<String>(&json) {
        // Unquoted only if reading it back gives this value again: the text is not the JSON
        // of some other `E`, and `E` can be read from a plain string.
        Ok(text) if serde_json::from_str::<E>(&text).is_err() && from_text::<E>(&text).is_ok() => {
            text
        }
        _ => json,
    }
}

fn from_text<E: DeserializeOwned>(text: &str) -> Result<E, serde::de::value::Error> {
    let text: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    E::deserialize(text)
}

/// Decodes an error payload: the JSON of `E`, or else the payload as a string-valued `E`
/// (which always succeeds for `E = String`).
pub fn decode_error<E: DeserializeOwned>(payload: &str) -> Result<E, String> {
    if let Ok(error) = serde_json::from_str::<E>(payload) {
        return Ok(error);
    }
    from_text::<E>(payload).map_err(|e| {
        format!(
            "the error `{payload}` is not a {}: {e}",
            std::any::type_name::<E>()
        )
    })
}

// ---- handlers --------------------------------------------------------------------------

/// The handler the worker runs for activity `A`: decodes the input, runs [`Activity::run`]
/// and encodes its result.
pub fn activity_handler<A: Activity>() -> ActivityHandler {
    Arc::new(|ctx: ActivityContext, input: String| -> ActivityFuture {
        Box::pin(async move {
            let input = decode_input::<A::Input>(&input)
                .map_err(|e| format!("activity '{}': bad input: {e}", A::NAME))?;
            match A::run(ctx, input).await {
                Ok(value) => encode_output(&value),
                Err(error) => Err(encode_error(&error)),
            }
        })
    })
}

/// The handler the runtime runs for orchestration `O` (as for [`activity_handler`]).
pub fn orchestration_handler<O: Orchestration>() -> OrchestrationHandler {
    Arc::new(
        |ctx: OrchestrationContext, input: String| -> OrchestrationFuture {
            Box::pin(async move {
                let input = decode_input::<O::Input>(&input).map_err(|e| {
                    format!("orchestration '{}' {}: bad input: {e}", O::NAME, O::VERSION)
                })?;
                match O::run(ctx, input).await {
                    Ok(value) => encode_output(&value),
                    Err(error) => Err(encode_error(&error)),
                }
            })
        },
    )
}

impl ActivityRegistryBuilder {
    /// Registers a typed activity under [`Activity::NAME`] (the explicit alternative to
    /// auto-registration).
    pub fn register_activity<A: Activity>(self) -> Self {
        self.register_handler(A::NAME.to_string(), activity_handler::<A>())
    }
}

impl OrchestrationRegistryBuilder {
    /// Registers a typed orchestration under [`Orchestration::NAME`] and
    /// [`Orchestration::VERSION`] (the explicit alternative to auto-registration).
    pub fn register_orchestration<O: Orchestration>(self) -> Self {
        self.register_handler(
            O::NAME.to_string(),
            O::VERSION,
            orchestration_handler::<O>(),
        )
    }
}

// ---- scheduling from an orchestration ---------------------------------------------------

/// What a typed call resolves with: the `Ok` value decoded, or the error decoded (panics
/// when the failure cannot be expressed as `E`; see the module docs).
fn resolve<T: DeserializeOwned, E: DeserializeOwned>(
    kind: &str,
    name: &str,
    result: Result<String, String>,
) -> Result<T, E> {
    let error = |text: &str| -> E {
        match decode_error::<E>(text) {
            Ok(error) => error,
            // Deliberate: the engine turns the panic into a failure of the calling
            // orchestration, which is the only honest outcome (see the module docs).
            Err(_) => panic!(
                "{kind} '{name}' failed with `{text}`, which is not a `{}` (the declared error type)",
                std::any::type_name::<E>()
            ),
        }
    };
    match result {
        Ok(payload) => decode_output::<T>(&payload).map_err(|message| {
            error(&format!(
                "{kind} '{name}' returned an unexpected output: {message}"
            ))
        }),
        Err(payload) => Err(error(&payload)),
    }
}

fn map_activity<A: Activity>(outcome: Outcome) -> Result<A::Output, A::Error> {
    resolve(
        "activity",
        A::NAME,
        crate::orchestration::future::map_result(outcome),
    )
}

fn map_orchestration<O: Orchestration>(outcome: Outcome) -> Result<O::Output, O::Error> {
    resolve(
        "sub-orchestration",
        O::NAME,
        crate::orchestration::future::map_result(outcome),
    )
}

fn encode_or_panic<In: Serialize>(kind: &str, name: &str, input: &In) -> String {
    encode_input(input)
        .unwrap_or_else(|e| panic!("cannot encode the arguments of {kind} '{name}': {e}"))
}

/// Schedules activity `A` with its argument tuple; resolves with its typed result.
///
/// The future is a [`DurableFuture`], so it works with `select2`/`join` like any other.
/// Arguments that cannot be encoded (e.g. a map with non-string keys) fail the
/// orchestration: the failure is deterministic, so it would fail the same way on replay.
pub fn schedule<A: Activity>(
    ctx: &OrchestrationContext,
    input: A::Input,
) -> DurableFuture<Result<A::Output, A::Error>> {
    let input = encode_or_panic("activity", A::NAME, &input);
    ctx.schedule_activity(A::NAME, input)
        .with_map(map_activity::<A>)
}

/// Schedules activity `A` with retries ([`OrchestrationContext::schedule_activity_with_retry`]);
/// resolves with the first `Ok` or the last error.
pub fn schedule_with_retry<A: Activity>(
    ctx: &OrchestrationContext,
    policy: RetryPolicy,
    input: A::Input,
) -> impl Future<Output = Result<A::Output, A::Error>> + Send + 'static {
    let input = encode_or_panic("activity", A::NAME, &input);
    let attempts = ctx.schedule_activity_with_retry(A::NAME, input, policy);
    async move { resolve::<A::Output, A::Error>("activity", A::NAME, attempts.await) }
}

/// Runs orchestration `O` (exactly [`Orchestration::VERSION`]) as a sub-orchestration with
/// a derived instance id; resolves with its typed result.
pub fn schedule_orchestration<O: Orchestration>(
    ctx: &OrchestrationContext,
    input: O::Input,
) -> DurableFuture<Result<O::Output, O::Error>> {
    let input = encode_or_panic("orchestration", O::NAME, &input);
    ctx.schedule_sub_orchestration_versioned(O::NAME, Some(O::VERSION.to_string()), None, input)
        .with_map(map_orchestration::<O>)
}

/// Like [`schedule_orchestration`] with an explicit child instance id.
pub fn schedule_orchestration_with_id<O: Orchestration>(
    ctx: &OrchestrationContext,
    instance: impl Into<String>,
    input: O::Input,
) -> DurableFuture<Result<O::Output, O::Error>> {
    let input = encode_or_panic("orchestration", O::NAME, &input);
    ctx.schedule_sub_orchestration_versioned(
        O::NAME,
        Some(O::VERSION.to_string()),
        Some(instance.into()),
        input,
    )
    .with_map(map_orchestration::<O>)
}

/// Starts an independent instance of orchestration `O` (fire-and-forget, recorded in
/// history so replay does not start it twice).
pub fn start_detached<O: Orchestration>(
    ctx: &OrchestrationContext,
    instance: impl Into<String>,
    input: O::Input,
) {
    let input = encode_or_panic("orchestration", O::NAME, &input);
    ctx.schedule_orchestration_versioned(O::NAME, Some(O::VERSION.to_string()), instance, input);
}

// ---- starting and waiting from a client ---------------------------------------------------

/// Starts a new instance of orchestration `O` (exactly [`Orchestration::VERSION`]).
///
/// # Errors
///
/// As [`Client::start_orchestration_versioned`]; [`ClientError::Serialization`] if the
/// arguments cannot be encoded.
pub async fn start<O: Orchestration>(
    client: &Client,
    instance: impl AsRef<str>,
    input: O::Input,
) -> Result<(), ClientError> {
    let input = encode_input(&input).map_err(ClientError::Serialization)?;
    client
        .start_orchestration_versioned(instance, O::NAME, O::VERSION, input)
        .await
}

/// Waits for an instance of orchestration `O` and decodes its result.
///
/// The outer `Result` is about everything that is not the orchestration's own answer
/// ([`WaitError`]: a timeout, cancellation, an infrastructure or configuration failure, a
/// panic, ...); the inner one is what the orchestration returned, `Ok(T)` or its own
/// `Err(E)`. So `wait(..).await??` propagates both.
///
/// # Errors
///
/// A [`WaitError`] when the instance did not finish with its own `Ok` or `Err` in time.
pub async fn wait<O: Orchestration>(
    client: &Client,
    instance: impl AsRef<str>,
    timeout: Duration,
) -> Result<Result<O::Output, O::Error>, WaitError> {
    let instance = instance.as_ref();
    let status = client
        .wait_for_orchestration(instance, timeout)
        .await
        .map_err(|e| match e {
            ClientError::Timeout { instance, timeout } => WaitError::Timeout { instance, timeout },
            other => WaitError::Client(other),
        })?;
    let decode_failure = |message: String| WaitError::Decode {
        instance: instance.to_string(),
        message,
    };
    match status {
        OrchestrationStatus::Completed { output } => decode_output::<O::Output>(&output)
            .map(Ok)
            .map_err(decode_failure),
        OrchestrationStatus::Failed { details } => match &details {
            ErrorDetails::Application {
                kind: AppErrorKind::OrchestrationFailed,
                message,
                ..
            } => decode_error::<O::Error>(message)
                .map(Err)
                .map_err(decode_failure),
            ErrorDetails::Application {
                kind: AppErrorKind::Cancelled { reason },
                ..
            } => Err(WaitError::Cancelled {
                instance: instance.to_string(),
                reason: reason.clone(),
            }),
            _ => Err(WaitError::Failed {
                instance: instance.to_string(),
                details,
            }),
        },
        OrchestrationStatus::NotFound => Err(WaitError::NotFound {
            instance: instance.to_string(),
        }),
        // `wait_for_orchestration` only returns once the instance is terminal or missing.
        OrchestrationStatus::Running => Err(WaitError::Timeout {
            instance: instance.to_string(),
            timeout,
        }),
    }
}

/// Why a typed [`wait`] has no `Ok`/`Err` answer of the orchestration's own.
///
/// The orchestration's own error type never appears here: an instance that returned
/// `Err(e)` makes `wait` return `Ok(Err(e))`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The instance did not finish within the timeout (it may still finish later).
    #[error("timed out after {timeout:?} waiting for instance '{instance}'")]
    Timeout {
        /// The instance id.
        instance: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// No instance has this id.
    #[error("instance '{instance}' not found")]
    NotFound {
        /// The instance id.
        instance: String,
    },
    /// The instance was cancelled.
    #[error("instance '{instance}' was cancelled: {reason}")]
    Cancelled {
        /// The instance id.
        instance: String,
        /// The reason given to `cancel_instance`.
        reason: String,
    },
    /// The instance failed for a reason other than its own `Err`: infrastructure,
    /// configuration (unregistered name, nondeterminism, history cap), poison, or a panic.
    #[error("instance '{instance}' failed: {details}")]
    Failed {
        /// The instance id.
        instance: String,
        /// Why, with its category (`details.category()`).
        details: ErrorDetails,
    },
    /// The instance finished, but its output or error is not of the declared type (it was
    /// started with other types, or by another version of the code).
    #[error("instance '{instance}' finished with a result of another type: {message}")]
    Decode {
        /// The instance id.
        instance: String,
        /// What did not decode.
        message: String,
    },
    /// The client or the store failed.
    #[error(transparent)]
    Client(ClientError),
}

impl WaitError {
    /// A stable lowercase word for the kind of failure: `"timeout"`, `"not_found"`,
    /// `"cancelled"`, `"decode"`, `"client"`, or for [`WaitError::Failed`] the details'
    /// category (`"infrastructure"`, `"configuration"`, `"application"`, `"poison"`).
    pub fn category(&self) -> &'static str {
        match self {
            WaitError::Timeout { .. } => "timeout",
            WaitError::NotFound { .. } => "not_found",
            WaitError::Cancelled { .. } => "cancelled",
            WaitError::Failed { details, .. } => details.category(),
            WaitError::Decode { .. } => "decode",
            WaitError::Client(_) => "client",
        }
    }

    /// Whether the wait timed out (the instance may still be running).
    pub fn is_timeout(&self) -> bool {
        matches!(self, WaitError::Timeout { .. })
    }

    /// Whether the instance was cancelled.
    pub fn is_cancellation(&self) -> bool {
        matches!(self, WaitError::Cancelled { .. })
    }

    /// The failure details, for [`WaitError::Failed`].
    pub fn details(&self) -> Option<&ErrorDetails> {
        match self {
            WaitError::Failed { details, .. } => Some(details),
            _ => None,
        }
    }

    /// Whether trying again may succeed (waiting longer, or a retryable failure).
    pub fn is_retryable(&self) -> bool {
        match self {
            WaitError::Timeout { .. } => true,
            WaitError::Failed { details, .. } => details.is_retryable(),
            WaitError::Client(e) => e.is_retryable(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum PayError {
        Declined,
        Insufficient { missing: u64 },
    }

    #[test]
    fn typed_error_payloads_round_trip_and_strings_stay_readable() {
        for message in ["card declined", "42", "\"quoted\"", "null", "", "{\"a\":1}"] {
            let payload = encode_error(&message.to_string());
            assert_eq!(decode_error::<String>(&payload).unwrap(), message);
        }
        assert_eq!(encode_error(&"card declined".to_string()), "card declined");
        assert_eq!(encode_error(&PayError::Declined), "Declined");
        let insufficient = PayError::Insufficient { missing: 5 };
        let payload = encode_error(&insufficient);
        assert_eq!(payload, r#"{"Insufficient":{"missing":5}}"#);
        assert_eq!(decode_error::<PayError>(&payload).unwrap(), insufficient);
        assert_eq!(
            decode_error::<PayError>("Declined").unwrap(),
            PayError::Declined
        );
        assert!(decode_error::<PayError>("panicked: boom").is_err());
        for value in [None, Some("null".to_string()), Some("x".to_string())] {
            assert_eq!(
                decode_error::<Option<String>>(&encode_error(&value)).unwrap(),
                value
            );
        }
    }

    #[test]
    fn typed_inputs_are_json_arrays() {
        assert_eq!(encode_input(&(1u8, "a")).unwrap(), r#"[1,"a"]"#);
        assert_eq!(encode_input(&("a",)).unwrap(), r#"["a"]"#);
        assert_eq!(encode_input(&()).unwrap(), "null");
        decode_input::<()>("").unwrap();
        assert_eq!(
            decode_input::<(String,)>(r#"["a"]"#).unwrap(),
            ("a".to_string(),)
        );
    }
}
