//! Registries: which orchestrations and activities this process can run, by name.
//!
//! Both registries are immutable once built (cheap to clone, shared by the runtime's
//! dispatchers). Orchestrations may have several versions; a new instance runs the latest
//! unless a version is requested, and an instance keeps the version it started with until it
//! continues as new.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::activity::ActivityContext;
use crate::orchestration::{OrchestrationContext, OrchestrationFuture, OrchestrationHandler};

/// The boxed future of a running activity.
pub type ActivityFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// An activity as the worker runs it.
pub type ActivityHandler = Arc<dyn Fn(ActivityContext, String) -> ActivityFuture + Send + Sync>;

/// The version an orchestration registered without one gets.
pub const DEFAULT_VERSION: &str = "1.0.0";

/// A mistake in what was registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The same name (and version) was registered twice.
    #[error("{kind} '{name}' is registered more than once{}", version.as_ref().map(|v| format!(" (version {v})")).unwrap_or_default())]
    Duplicate {
        /// `"activity"` or `"orchestration"`.
        kind: &'static str,
        /// The name.
        name: String,
        /// The version, for orchestrations.
        version: Option<String>,
    },
    /// A version string is not semantic versioning (`MAJOR.MINOR.PATCH`).
    #[error("orchestration '{name}' has invalid version '{version}': {message}")]
    InvalidVersion {
        /// The name.
        name: String,
        /// The version string given.
        version: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Adapts a typed function to the string-in, string-out shape handlers have: the input is
/// decoded from JSON (a failure is the call's `Err`, naming the type) and the output encoded.
fn json_adapter<C, In, Out, F, Fut>(
    f: F,
) -> impl Fn(C, String) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>>
       + Send
       + Sync
       + 'static
where
    C: Send + 'static,
    In: DeserializeOwned + Send + 'static,
    Out: Serialize + Send + 'static,
    F: Fn(C, In) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Out, String>> + Send + 'static,
{
    let f = Arc::new(f);
    move |ctx, input: String| {
        let f = Arc::clone(&f);
        Box::pin(async move {
            let input: In = crate::json::decode(&input)?;
            let output = f(ctx, input).await?;
            crate::json::encode(&output)
        })
    }
}

// ---- activities ------------------------------------------------------------------------

/// The activities a runtime can run, by name.
#[derive(Clone, Default)]
pub struct ActivityRegistry {
    handlers: Arc<BTreeMap<String, ActivityHandler>>,
}

impl std::fmt::Debug for ActivityRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl ActivityRegistry {
    /// Starts building a registry.
    pub fn builder() -> ActivityRegistryBuilder {
        ActivityRegistryBuilder::default()
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<ActivityHandler> {
        self.handlers.get(name).cloned()
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// How many activities are registered.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

/// Builds an [`ActivityRegistry`].
#[derive(Default)]
pub struct ActivityRegistryBuilder {
    handlers: BTreeMap<String, ActivityHandler>,
    errors: Vec<RegistryError>,
}

impl ActivityRegistryBuilder {
    /// Registers an activity taking and returning strings.
    ///
    /// ```
    /// # use duroxide::{ActivityContext, runtime::registry::ActivityRegistry};
    /// let activities = ActivityRegistry::builder()
    ///     .register("Hello", |_ctx: ActivityContext, name: String| async move {
    ///         Ok(format!("Hello, {name}!"))
    ///     })
    ///     .build();
    /// assert!(activities.contains("Hello"));
    /// ```
    pub fn register<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(ActivityContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let handler: ActivityHandler = Arc::new(move |ctx, input| Box::pin(f(ctx, input)));
        self.register_handler(name.into(), handler)
    }

    /// Registers an activity whose input and output travel as JSON. An input that does not
    /// decode as `In` fails the call with an `Err` naming the type.
    pub fn register_typed<In, Out, F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + Send + 'static,
        F: Fn(ActivityContext, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, String>> + Send + 'static,
    {
        self.register_handler(name.into(), Arc::new(json_adapter(f)))
    }

    /// Registers a ready-made handler (used by generated code and by adapters).
    pub fn register_handler(mut self, name: String, handler: ActivityHandler) -> Self {
        if self.handlers.contains_key(&name) {
            self.errors.push(RegistryError::Duplicate {
                kind: "activity",
                name: name.clone(),
                version: None,
            });
        }
        self.handlers.insert(name, handler);
        self
    }

    /// Adds every activity of another registry.
    pub fn merge(mut self, other: &ActivityRegistry) -> Self {
        for (name, handler) in other.handlers.iter() {
            self = self.register_handler(name.clone(), Arc::clone(handler));
        }
        self
    }

    /// Builds the registry. A name registered twice keeps the later registration and logs a
    /// warning; use [`try_build`](Self::try_build) to refuse instead.
    pub fn build(self) -> ActivityRegistry {
        for error in &self.errors {
            tracing::warn!(target: "duroxide::registry", "{error}; the later registration wins");
        }
        ActivityRegistry {
            handlers: Arc::new(self.handlers),
        }
    }

    /// Builds the registry, or reports every duplicate registration.
    pub fn try_build(self) -> Result<ActivityRegistry, Vec<RegistryError>> {
        if self.errors.is_empty() {
            Ok(self.build())
        } else {
            Err(self.errors)
        }
    }
}

// ---- orchestrations --------------------------------------------------------------------

/// The orchestrations a runtime can run, by name and version.
#[derive(Clone, Default)]
pub struct OrchestrationRegistry {
    handlers: Arc<BTreeMap<String, BTreeMap<semver::Version, OrchestrationHandler>>>,
}

impl std::fmt::Debug for OrchestrationRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.handlers.iter().map(|(name, versions)| {
                (
                    name,
                    versions.keys().map(ToString::to_string).collect::<Vec<_>>(),
                )
            }))
            .finish()
    }
}

impl OrchestrationRegistry {
    /// Starts building a registry.
    pub fn builder() -> OrchestrationRegistryBuilder {
        OrchestrationRegistryBuilder::default()
    }

    /// The handler for `name` at `version` (`None`: the latest registered version), with the
    /// version it resolved to.
    pub fn resolve(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Option<(String, OrchestrationHandler)> {
        let versions = self.handlers.get(name)?;
        let (v, handler) = match version {
            None => versions.iter().next_back()?,
            Some(v) => {
                let parsed = semver::Version::parse(v).ok()?;
                versions.get_key_value(&parsed)?
            }
        };
        Some((v.to_string(), Arc::clone(handler)))
    }

    /// Whether `name` is registered (in any version).
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// The registered versions of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Vec<String> {
        self.handlers
            .get(name)
            .map(|v| v.keys().map(ToString::to_string).collect())
            .unwrap_or_default()
    }
}

/// Builds an [`OrchestrationRegistry`].
#[derive(Default)]
pub struct OrchestrationRegistryBuilder {
    handlers: BTreeMap<String, BTreeMap<semver::Version, OrchestrationHandler>>,
    errors: Vec<RegistryError>,
}

impl OrchestrationRegistryBuilder {
    /// Registers an orchestration (version 1.0.0) taking and returning strings.
    ///
    /// ```
    /// # use duroxide::{OrchestrationContext, OrchestrationRegistry};
    /// let orchestrations = OrchestrationRegistry::builder()
    ///     .register("HelloWorld", |ctx: OrchestrationContext, name: String| async move {
    ///         ctx.schedule_activity("Hello", name).await
    ///     })
    ///     .build();
    /// assert_eq!(orchestrations.versions("HelloWorld"), vec!["1.0.0"]);
    /// ```
    pub fn register<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(OrchestrationContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        self.register_versioned(name, DEFAULT_VERSION, f)
    }

    /// Registers one version of an orchestration.
    pub fn register_versioned<F, Fut>(
        self,
        name: impl Into<String>,
        version: impl AsRef<str>,
        f: F,
    ) -> Self
    where
        F: Fn(OrchestrationContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let handler: OrchestrationHandler =
            Arc::new(move |ctx, input| -> OrchestrationFuture { Box::pin(f(ctx, input)) });
        self.register_handler(name.into(), version.as_ref(), handler)
    }

    /// Registers an orchestration (version 1.0.0) whose input and output travel as JSON.
    /// An input that does not decode as `In` fails the instance with an application error.
    pub fn register_typed<In, Out, F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + Send + 'static,
        F: Fn(OrchestrationContext, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, String>> + Send + 'static,
    {
        self.register_versioned_typed(name, DEFAULT_VERSION, f)
    }

    /// Registers one version of a typed orchestration.
    pub fn register_versioned_typed<In, Out, F, Fut>(
        self,
        name: impl Into<String>,
        version: impl AsRef<str>,
        f: F,
    ) -> Self
    where
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + Send + 'static,
        F: Fn(OrchestrationContext, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, String>> + Send + 'static,
    {
        self.register_handler(name.into(), version.as_ref(), Arc::new(json_adapter(f)))
    }

    /// Registers a ready-made handler (used by generated code and by adapters).
    pub fn register_handler(
        mut self,
        name: String,
        version: &str,
        handler: OrchestrationHandler,
    ) -> Self {
        let parsed = match semver::Version::parse(version) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(RegistryError::InvalidVersion {
                    name,
                    version: version.to_string(),
                    message: e.to_string(),
                });
                return self;
            }
        };
        let versions = self.handlers.entry(name.clone()).or_default();
        if versions.contains_key(&parsed) {
            self.errors.push(RegistryError::Duplicate {
                kind: "orchestration",
                name,
                version: Some(parsed.to_string()),
            });
        }
        versions.insert(parsed, handler);
        self
    }

    /// Adds every orchestration version of another registry.
    pub fn merge(mut self, other: &OrchestrationRegistry) -> Self {
        for (name, versions) in other.handlers.iter() {
            for (version, handler) in versions {
                self =
                    self.register_handler(name.clone(), &version.to_string(), Arc::clone(handler));
            }
        }
        self
    }

    /// Builds the registry. Mistakes (a duplicate keeps the later registration; an invalid
    /// version is skipped) are logged as warnings; use [`try_build`](Self::try_build) to
    /// refuse instead.
    pub fn build(self) -> OrchestrationRegistry {
        for error in &self.errors {
            tracing::warn!(target: "duroxide::registry", "{error}");
        }
        OrchestrationRegistry {
            handlers: Arc::new(self.handlers),
        }
    }

    /// Builds the registry, or reports every mistake.
    pub fn try_build(self) -> Result<OrchestrationRegistry, Vec<RegistryError>> {
        if self.errors.is_empty() {
            Ok(self.build())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_resolves_latest_and_exact_versions() {
        let reg = OrchestrationRegistry::builder()
            .register_versioned("O", "1.0.0", |_ctx, _i| async { Ok("v1".to_string()) })
            .register_versioned("O", "1.10.0", |_ctx, _i| async { Ok("v110".to_string()) })
            .register_versioned("O", "1.2.0", |_ctx, _i| async { Ok("v12".to_string()) })
            .build();
        assert_eq!(
            reg.resolve("O", None).map(|(v, _)| v).as_deref(),
            Some("1.10.0")
        );
        assert_eq!(
            reg.resolve("O", Some("1.2.0")).map(|(v, _)| v).as_deref(),
            Some("1.2.0")
        );
        assert!(reg.resolve("O", Some("2.0.0")).is_none());
        assert!(reg.resolve("P", None).is_none());
    }

    #[test]
    fn registry_try_build_reports_duplicates_and_bad_versions() {
        let errors = OrchestrationRegistry::builder()
            .register("O", |_ctx, _i| async { Ok(String::new()) })
            .register("O", |_ctx, _i| async { Ok(String::new()) })
            .register_versioned("Q", "one", |_ctx, _i| async { Ok(String::new()) })
            .try_build()
            .unwrap_err();
        assert_eq!(errors.len(), 2);
        let errors = ActivityRegistry::builder()
            .register("A", |_ctx, i| async { Ok(i) })
            .register("A", |_ctx, i| async { Ok(i) })
            .try_build()
            .unwrap_err();
        assert!(matches!(&errors[0], RegistryError::Duplicate { name, .. } if name == "A"));
    }
}
