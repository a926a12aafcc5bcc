//! The definition traits: an activity or orchestration as a *type* that carries its name,
//! version, argument types, output and error.
//!
//! `#[activity]` and `#[orchestration]` implement these traits for a marker type named after
//! the annotated fn; you can also implement them by hand. Everything typed in duroxide (the
//! stubs, [`crate::typed`], auto-registration) is generic over these traits, so a hand-written
//! definition gets exactly what the macros give.
//!
//! ```
//! use duroxide::{Activity, ActivityContext};
//!
//! /// Adds two numbers (the hand-written equivalent of `#[activity] async fn add(..)`).
//! pub struct Add;
//!
//! impl Activity for Add {
//!     const NAME: &'static str = "add";
//!     type Input = (i64, i64);
//!     type Output = i64;
//!     type Error = String;
//!
//!     async fn run(_ctx: ActivityContext, (a, b): (i64, i64)) -> Result<i64, String> {
//!         a.checked_add(b).ok_or_else(|| "overflow".to_string())
//!     }
//! }
//! # let out = futures::executor::block_on(Add::run(ActivityContext::for_test("add"), (2, 3)));
//! # assert_eq!(out, Ok(5));
//! ```

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::activity::ActivityContext;
use crate::orchestration::OrchestrationContext;

/// A value that can travel as a durable payload: an argument, an output or an error.
///
/// Every `Serialize + DeserializeOwned + Send + 'static` type is one; you never implement
/// this trait yourself. It exists so that a type that is not a serde type gets an error
/// that says what a payload needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel as a durable payload",
    label = "not a serde type",
    note = "arguments, outputs and errors of activities and orchestrations are stored as JSON: \
            each must implement `serde::Serialize` and `serde::de::DeserializeOwned` \
            (usually `#[derive(Serialize, Deserialize)]`), be `Send` and own its data"
)]
pub trait Payload: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for T {}

/// An activity: a named unit of real work that runs at least once, outside replay.
///
/// `Input` is the tuple of arguments after the context (`()` for none, `(T,)` for one);
/// it travels as a JSON array, one element per argument (see [`crate::typed`] for the exact
/// payload rules). `run` returns the activity's result; an `Err` is delivered to the
/// calling orchestration.
pub trait Activity: 'static {
    /// The registered name (the fn name unless `#[activity(name = "..")]` says otherwise).
    const NAME: &'static str;
    /// The arguments after the context, as a tuple.
    type Input: Payload;
    /// The `Ok` type.
    type Output: Payload;
    /// The `Err` type (`String` in the common case).
    type Error: Payload;

    /// Runs the activity body.
    fn run(
        ctx: ActivityContext,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send + 'static;
}

/// An orchestration: deterministic code that schedules activities, timers, events and
/// sub-orchestrations, replayed from history after every restart.
///
/// The payload rules are those of [`Activity`]. `NAME` and `VERSION` together identify the
/// code: a new instance started through the typed helpers runs exactly `VERSION`.
pub trait Orchestration: 'static {
    /// The registered name (the fn name unless `#[orchestration(name = "..")]` says otherwise).
    const NAME: &'static str;
    /// The registered version (`MAJOR.MINOR.PATCH`; `1.0.0` unless `version = ".."` says
    /// otherwise).
    const VERSION: &'static str = crate::registry::DEFAULT_VERSION;
    /// The arguments after the context, as a tuple.
    type Input: Payload;
    /// The `Ok` type.
    type Output: Payload;
    /// The `Err` type (`String` in the common case).
    type Error: Payload;

    /// Runs the orchestration body. It must be deterministic: see `docs/determinism.md`.
    fn run(
        ctx: OrchestrationContext,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send + 'static;
}
