//! The authoring API and the replay engine: everything orchestration code touches, and the
//! pure machinery that runs it over history. Nothing here knows about storage or the runtime.

pub mod action;
pub mod combinators;
pub mod context;
pub(crate) mod decision;
pub mod future;
pub mod replay;
pub mod retry;
pub(crate) mod state;

pub use action::Action;
pub use combinators::{Either2, Either3, Join2, Join3, JoinAll, Select2, Select3, SelectAll};
pub use context::OrchestrationContext;
pub use future::{ContinueAsNew, DurableFuture};
pub use replay::{
    OrchestrationFuture, OrchestrationHandler, ReplayEngine, TurnInput, TurnOutcome, TurnStatus,
};
pub use retry::{BackoffStrategy, RetryPolicy};
