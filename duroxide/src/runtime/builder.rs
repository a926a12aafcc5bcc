//! [`RuntimeBuilder`]: start a runtime with every annotated fn in the binary registered.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use duroxide::providers::sled::SledProvider;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SledProvider::new("./data", None).await?);
//! let rt = duroxide::Runtime::builder(store.clone()).start().await?;
//! # rt.shutdown(None).await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::autoreg::{self, Entry, RegistrationProblem};
use crate::providers::Provider;
use crate::registry::{ActivityRegistry, OrchestrationRegistry};

use super::{Runtime, RuntimeOptions};

impl Runtime {
    /// Starts building a runtime on `store`. By default it registers every `#[activity]`
    /// and `#[orchestration]` linked into the binary; explicit registries can be added.
    pub fn builder(store: Arc<dyn Provider>) -> RuntimeBuilder {
        RuntimeBuilder {
            store,
            options: RuntimeOptions::default(),
            activities: Vec::new(),
            orchestrations: Vec::new(),
            auto_registration: true,
        }
    }
}

/// Builds and starts a [`Runtime`]; made by [`Runtime::builder`].
///
/// The registries are fixed when [`start`](Self::start) returns: the runtime never looks
/// for new registrations afterwards.
#[must_use = "a builder does nothing until `.start().await`"]
pub struct RuntimeBuilder {
    store: Arc<dyn Provider>,
    options: RuntimeOptions,
    activities: Vec<ActivityRegistry>,
    orchestrations: Vec<OrchestrationRegistry>,
    auto_registration: bool,
}

impl fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("options", &self.options)
            .field("activities", &self.activities)
            .field("orchestrations", &self.orchestrations)
            .field("auto_registration", &self.auto_registration)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// The options to run with (default: `RuntimeOptions::default()`).
    pub fn options(mut self, options: RuntimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds an explicit activity registry (may be called several times). Its names combine
    /// with the auto-registered ones; a name registered twice is a start-up error.
    pub fn activities(mut self, registry: impl Into<ActivityRegistry>) -> Self {
        self.activities.push(registry.into());
        self
    }

    /// Adds an explicit orchestration registry (as for [`activities`](Self::activities)).
    pub fn orchestrations(mut self, registry: impl Into<OrchestrationRegistry>) -> Self {
        self.orchestrations.push(registry.into());
        self
    }

    /// Registers only the explicit registries, not the annotated fns in the binary.
    pub fn without_auto_registration(mut self) -> Self {
        self.auto_registration = false;
        self
    }

    /// The registries this builder would start with, or every registration problem.
    ///
    /// # Errors
    ///
    /// [`StartError`] listing every duplicate name (with both source locations) and every
    /// invalid version.
    pub fn registries(&self) -> Result<(ActivityRegistry, OrchestrationRegistry), StartError> {
        let mut activity_entries = Vec::new();
        let mut orchestration_entries = Vec::new();
        if self.auto_registration {
            activity_entries.extend(autoreg::activity_entries());
            orchestration_entries.extend(autoreg::orchestration_entries());
        }
        for registry in &self.activities {
            activity_entries.extend(autoreg::explicit_activities(registry));
        }
        for registry in &self.orchestrations {
            orchestration_entries.extend(autoreg::explicit_orchestrations(registry));
        }

        let mut problems = Vec::new();
        let activities = autoreg::dedupe("activity", activity_entries, &mut problems);
        let orchestrations = autoreg::dedupe("orchestration", orchestration_entries, &mut problems);
        if !problems.is_empty() {
            return Err(StartError { problems });
        }

        let activities = activities
            .into_iter()
            .fold(
                ActivityRegistry::builder(),
                |b, Entry { name, handler, .. }| b.register_handler(name, handler),
            )
            .build();
        let orchestrations = orchestrations
            .into_iter()
            .fold(
                OrchestrationRegistry::builder(),
                |b,
                 Entry {
                     name,
                     version,
                     handler,
                     ..
                 }| {
                    let version =
                        version.unwrap_or_else(|| crate::registry::DEFAULT_VERSION.into());
                    b.register_handler(name, &version, handler)
                },
            )
            .build();
        Ok((activities, orchestrations))
    }

    /// Collects the registrations and starts the runtime. Must be called within a Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`StartError`] (and nothing is started) if any registration is a duplicate or has an
    /// invalid version.
    pub async fn start(self) -> Result<Arc<Runtime>, StartError> {
        let (activities, orchestrations) = self.registries()?;
        Ok(Runtime::start_with_options(self.store, activities, orchestrations, self.options).await)
    }
}

/// The runtime did not start: something registered is wrong. Lists every problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    problems: Vec<RegistrationProblem>,
}

impl StartError {
    /// Every problem found, in sorted order.
    pub fn problems(&self) -> &[RegistrationProblem] {
        &self.problems
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "the runtime cannot start: {n} registration problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StartError {}
