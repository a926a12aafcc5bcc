//! Generated code stays clean under strict lints and with `core`/`std` shadowed: it names
//! only `::duroxide::__private::..`, documents what it makes public and leaks no helper.
#![deny(missing_docs, unused_qualifications, unsafe_code, warnings)]
#![forbid(unsafe_code)]

/// Shadows `core` for relative paths.
pub mod core {}
/// Shadows `std` for relative paths.
pub mod std {}

/// Workflows.
pub mod flows {
    use duroxide::{activity, orchestration, ActivityContext, OrchestrationContext};

    /// Greets.
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, String> {
        Ok(format!("Hello, {name}!"))
    }

    /// Greets twice.
    #[orchestration(version = "2.1.0")]
    pub async fn greet_twice(ctx: OrchestrationContext, name: String) -> Result<String, String> {
        let first = greet::schedule(&ctx, name.clone()).await?;
        let second = greet::schedule(&ctx, name).await?;
        Ok(format!("{first} {second}"))
    }

    // Private fns need no docs and warn about nothing.
    #[activity(name = "Private")]
    async fn private_activity(_ctx: ActivityContext) -> Result<(), String> {
        Ok(())
    }

    #[orchestration]
    async fn private_flow(ctx: OrchestrationContext) -> Result<(), String> {
        private_activity::schedule(&ctx).await
    }
}

/// A platform crate re-exporting duroxide: `crate = ".."` points the macros at it.
pub mod platform {
    pub use duroxide;

    /// Pings.
    #[duroxide::activity(crate = "crate::platform::duroxide")]
    pub async fn ping(_ctx: duroxide::ActivityContext) -> Result<(), String> {
        Ok(())
    }
}

// Nothing but the annotated names was added to the module.
#[allow(unused_imports)]
use flows::{greet, greet_twice};

fn main() {
    assert_eq!(flows::greet::NAME, "greet");
    assert_eq!(flows::greet_twice::NAME, "greet_twice");
    assert_eq!(flows::greet_twice::VERSION, "2.1.0");
    assert_eq!(platform::ping::NAME, "ping");
    // A local binding may reuse an annotated fn's name (the marker is a type only).
    let greet = flows::greet::NAME;
    assert_eq!(greet, "greet");
}
