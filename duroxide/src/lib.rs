//! # duroxide
//!
//! An embeddable durable-execution runtime. Write **orchestrations** (deterministic async
//! functions that decide what happens) and **activities** (async functions that do the work);
//! the runtime records every decision in a durable history and, after a crash or restart,
//! replays the orchestration over that history so it continues exactly where it stopped.
//!
//! The default store is an embedded [sled](providers::sled::SledProvider) database, so a
//! single binary needs no server.
//!
//! ```no_run
//! use std::sync::Arc;
//! use duroxide::{ActivityContext, Client, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus};
//! use duroxide::runtime::{self, registry::ActivityRegistry};
//! use duroxide::providers::sled::SledProvider;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SledProvider::new("./data", None).await?);
//! let activities = ActivityRegistry::builder()
//!     .register("Hello", |_ctx: ActivityContext, name: String| async move { Ok(format!("Hello, {name}!")) })
//!     .build();
//! let orchestrations = OrchestrationRegistry::builder()
//!     .register("HelloWorld", |ctx: OrchestrationContext, name: String| async move {
//!         ctx.schedule_activity("Hello", name).await
//!     })
//!     .build();
//! let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
//! let client = Client::new(store);
//! client.start_orchestration("inst-1", "HelloWorld", "Rust").await?;
//! let status = client.wait_for_orchestration("inst-1", std::time::Duration::from_secs(5)).await?;
//! assert_eq!(status, OrchestrationStatus::Completed { output: "Hello, Rust!".into() });
//! rt.shutdown(None).await;
//! # Ok(())
//! # }
//! ```
//!
//! Layers (each only uses the ones below it): the authoring API and pure replay engine
//! ([`mod@orchestration`]), the [`runtime`] with its two dispatchers, the [`providers`] (stores),
//! and the [`codec`] for stored records.

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;
pub mod activity;
pub mod autoreg;
pub mod client;
mod clock;
pub mod codec;
pub mod definition;
pub mod error;
pub mod history;
pub mod json;
pub mod orchestration;
#[cfg(feature = "provider-test")]
pub mod provider_tests;
pub mod providers;
pub mod registry;
pub mod runtime;
pub mod testing;
pub mod typed;

pub use activity::ActivityContext;
pub use client::{Client, InstanceFilter, InstanceTree, OrchestrationStatus};
pub use definition::{Activity, Orchestration, Payload};
pub use duroxide_macros::{activity, deterministic, orchestration};
pub use error::{AppErrorKind, ClientError, ConfigErrorKind, ErrorDetails, ProviderError};
pub use history::{Event, EventKind, ParentLink};
pub use orchestration::{
    Action, BackoffStrategy, ContinueAsNew, DurableFuture, Either2, Either3, OrchestrationContext,
    RetryPolicy,
};
pub use registry::{ActivityRegistry, OrchestrationRegistry};
pub use runtime::{Runtime, RuntimeBuilder, RuntimeOptions, StartError};
pub use typed::WaitError;

// The Rust blocks of the README and the guides are compiled as doctests, so they cannot
// drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/ORCHESTRATION-GUIDE.md")]
pub struct OrchestrationGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/providers.md")]
pub struct ProvidersGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/macros.md")]
pub struct MacrosGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/determinism.md")]
pub struct DeterminismGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/operations.md")]
pub struct OperationsGuideDoctests;
