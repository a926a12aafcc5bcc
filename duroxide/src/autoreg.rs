//! Auto-registration: every `#[activity]` and `#[orchestration]` linked into the binary
//! submits a record here (with [`inventory`]), and [`Runtime::builder`](crate::Runtime::builder)
//! collects them at start-up.
//!
//! Guarantees, each tested in `tests/macros_*.rs`:
//!
//! - Every annotated fn in every crate linked into the binary is found, whatever the crate
//!   (a crate that nothing in the binary references is not linked: name it once, e.g.
//!   `use my_workflows as _;`).
//! - Collection order does not depend on link order: records are sorted by kind, name,
//!   version and source location.
//! - The same name (and, for orchestrations, version) defined twice is refused, naming both
//!   source locations; so is a name both auto-registered and in an explicit registry.
//! - Records are `const`: nothing runs to create them. On a platform that runs no code
//!   before `main`, [`activities`] and [`orchestrations`] are empty; register explicitly
//!   there ([`ActivityRegistryBuilder::register_activity`](crate::registry::ActivityRegistryBuilder::register_activity)).

use std::fmt;

use crate::definition::{Activity, Orchestration};
use crate::orchestration::OrchestrationHandler;
use crate::registry::{ActivityHandler, ActivityRegistry, OrchestrationRegistry};

/// Where a registration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// An annotated fn (or a hand-written `submit!`) at this source location.
    Source {
        /// The source file, as `file!()` gives it.
        file: &'static str,
        /// The line of the attribute.
        line: u32,
        /// The module path, as `module_path!()` gives it (starts with the crate name).
        module: &'static str,
    },
    /// A registry passed explicitly to the runtime builder.
    Explicit,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Source { file, line, module } => write!(f, "{file}:{line} (in `{module}`)"),
            Origin::Explicit => f.write_str("an explicit registry passed to the runtime builder"),
        }
    }
}

/// The registration record of one activity.
#[derive(Debug, Clone, Copy)]
pub struct ActivityRegistration {
    name: &'static str,
    origin: Origin,
    handler: fn() -> ActivityHandler,
}

impl ActivityRegistration {
    /// The record of activity `A` defined at `file:line` in `module`; what
    /// `#[activity]` submits with `inventory::submit!`.
    pub const fn new<A: Activity>(file: &'static str, line: u32, module: &'static str) -> Self {
        ActivityRegistration {
            name: A::NAME,
            origin: Origin::Source { file, line, module },
            handler: crate::typed::activity_handler::<A>,
        }
    }

    /// The registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Where it is defined.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Builds its handler.
    pub fn handler(&self) -> ActivityHandler {
        (self.handler)()
    }
}

/// The registration record of one orchestration version.
#[derive(Debug, Clone, Copy)]
pub struct OrchestrationRegistration {
    name: &'static str,
    version: &'static str,
    origin: Origin,
    handler: fn() -> OrchestrationHandler,
}

impl OrchestrationRegistration {
    /// The record of orchestration `O` defined at `file:line` in `module`; what
    /// `#[orchestration]` submits with `inventory::submit!`.
    pub const fn new<O: Orchestration>(
        file: &'static str,
        line: u32,
        module: &'static str,
    ) -> Self {
        OrchestrationRegistration {
            name: O::NAME,
            version: O::VERSION,
            origin: Origin::Source { file, line, module },
            handler: crate::typed::orchestration_handler::<O>,
        }
    }

    /// The registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The registered version.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// Where it is defined.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Builds its handler.
    pub fn handler(&self) -> OrchestrationHandler {
        (self.handler)()
    }
}

/// Submits a registration record (`inventory::submit!`), for a hand-written definition:
///
/// ```ignore
/// duroxide::autoreg::submit! {
///     duroxide::autoreg::ActivityRegistration::new::<Double>(file!(), line!(), module_path!())
/// }
/// ```
pub use inventory::submit;

inventory::collect!(ActivityRegistration);
inventory::collect!(OrchestrationRegistration);

/// Every activity record linked into the binary, sorted by name and source location.
pub fn activities() -> Vec<&'static ActivityRegistration> {
    let mut all: Vec<_> = inventory::iter::<ActivityRegistration>
        .into_iter()
        .collect();
    all.sort_by_key(|r| (r.name, r.origin));
    all
}

/// Every orchestration record linked into the binary, sorted by name, version and source
/// location.
pub fn orchestrations() -> Vec<&'static OrchestrationRegistration> {
    let mut all: Vec<_> = inventory::iter::<OrchestrationRegistration>
        .into_iter()
        .collect();
    all.sort_by_key(|r| (r.name, version_key(r.version), r.version, r.origin));
    all
}

fn version_key(version: &str) -> Option<semver::Version> {
    semver::Version::parse(version).ok()
}

/// A mistake in what would be registered; the runtime refuses to start on any.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationProblem {
    /// The same name (and version) is defined twice.
    Duplicate {
        /// `"activity"` or `"orchestration"`.
        kind: &'static str,
        /// The name.
        name: String,
        /// The version, for orchestrations.
        version: Option<String>,
        /// The first definition (in sorted order).
        first: Origin,
        /// The second definition.
        second: Origin,
    },
    /// An orchestration's version is not `MAJOR.MINOR.PATCH`.
    InvalidVersion {
        /// The name.
        name: String,
        /// The version string given.
        version: String,
        /// What is wrong with it.
        message: String,
        /// Where it is defined.
        origin: Origin,
    },
}

impl fmt::Display for RegistrationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationProblem::Duplicate {
                kind,
                name,
                version,
                first,
                second,
            } => {
                write!(f, "{kind} '{name}'")?;
                if let Some(v) = version {
                    write!(f, " version {v}")?;
                }
                write!(f, " is defined twice: at {first} and at {second}")
            }
            RegistrationProblem::InvalidVersion {
                name,
                version,
                message,
                origin,
            } => write!(
                f,
                "orchestration '{name}' at {origin} has invalid version '{version}': {message}"
            ),
        }
    }
}

/// One handler to register, whatever its source.
pub(crate) struct Entry<H> {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) origin: Origin,
    pub(crate) handler: H,
}

/// The auto-registered activities, as entries.
pub(crate) fn activity_entries() -> Vec<Entry<ActivityHandler>> {
    activities()
        .into_iter()
        .map(|r| Entry {
            name: r.name.to_string(),
            version: None,
            origin: r.origin,
            handler: r.handler(),
        })
        .collect()
}

/// The auto-registered orchestrations, as entries.
pub(crate) fn orchestration_entries() -> Vec<Entry<OrchestrationHandler>> {
    orchestrations()
        .into_iter()
        .map(|r| Entry {
            name: r.name.to_string(),
            version: Some(r.version.to_string()),
            origin: r.origin,
            handler: r.handler(),
        })
        .collect()
}

/// The entries of an explicit activity registry.
pub(crate) fn explicit_activities(registry: &ActivityRegistry) -> Vec<Entry<ActivityHandler>> {
    registry
        .names()
        .into_iter()
        .filter_map(|name| {
            let handler = registry.get(&name)?;
            Some(Entry {
                name,
                version: None,
                origin: Origin::Explicit,
                handler,
            })
        })
        .collect()
}

/// The entries of an explicit orchestration registry.
pub(crate) fn explicit_orchestrations(
    registry: &OrchestrationRegistry,
) -> Vec<Entry<OrchestrationHandler>> {
    let mut entries = Vec::new();
    for name in registry.names() {
        for version in registry.versions(&name) {
            if let Some((_, handler)) = registry.resolve(&name, Some(&version)) {
                entries.push(Entry {
                    name: name.clone(),
                    version: Some(version),
                    origin: Origin::Explicit,
                    handler,
                });
            }
        }
    }
    entries
}

/// Sorts `entries`, reports every duplicate (name and parsed version) and invalid version,
/// and returns the entries to register (the first of each duplicate group).
pub(crate) fn dedupe<H>(
    kind: &'static str,
    mut entries: Vec<Entry<H>>,
    problems: &mut Vec<RegistrationProblem>,
) -> Vec<Entry<H>> {
    let mut valid = Vec::with_capacity(entries.len());
    for entry in entries.drain(..) {
        if let Some(version) = &entry.version {
            if let Err(e) = semver::Version::parse(version) {
                problems.push(RegistrationProblem::InvalidVersion {
                    name: entry.name.clone(),
                    version: version.clone(),
                    message: e.to_string(),
                    origin: entry.origin,
                });
                continue;
            }
        }
        valid.push(entry);
    }
    let key = |e: &Entry<H>| (e.name.clone(), e.version.as_deref().and_then(version_key));
    valid.sort_by(|a, b| key(a).cmp(&key(b)).then(a.origin.cmp(&b.origin)));
    let mut kept: Vec<Entry<H>> = Vec::with_capacity(valid.len());
    for entry in valid {
        if let Some(first) = kept.last().filter(|k| key(k) == key(&entry)) {
            problems.push(RegistrationProblem::Duplicate {
                kind,
                name: entry.name.clone(),
                version: entry.version.clone(),
                first: first.origin,
                second: entry.origin,
            });
            continue;
        }
        kept.push(entry);
    }
    kept
}
