//! Procedural macros for [duroxide](https://docs.rs/duroxide): `#[activity]`,
//! `#[orchestration]` and `#[deterministic]`. Use them through the `duroxide` crate, which
//! re-exports them; the generated code names only `::duroxide::__private::...`. The guide
//! is `docs/macros.md`; the lint catalogue is `docs/determinism.md`.
//!
//! Each macro is a small compiler, one stage per module: `args` parses the attribute's
//! arguments; `ast` turns the fn into a span-carrying model, checking its signature;
//! `lints` runs the determinism catalogue (`catalogue`, with `use` aliases resolved by
//! `paths`) over orchestration bodies and strips `#[duroxide::allow]`; `expand` generates
//! the marker type, its trait impl, the typed stubs and the registration; `fallback`
//! decides what to emit when a stage reported errors: all of them at once, and still the
//! user's item, so one mistake gives one error.

use proc_macro::TokenStream;

mod args;
mod ast;
mod catalogue;
mod expand;
mod fallback;
mod lints;
mod paths;

use args::Kind;

/// Turns `async fn name(ctx: ActivityContext, args..) -> Result<T, E>` into an activity.
///
/// ```ignore
/// #[activity]                        // or #[activity(name = "Charge")]
/// async fn charge(ctx: ActivityContext, order_id: u64, cents: u64) -> Result<Receipt, String> {
///     // real work: I/O, clocks, randomness are fine here
/// }
///
/// // in an orchestration:
/// let receipt = charge::schedule(&ctx, 42, 1999).await?;
/// ```
///
/// `charge` becomes a marker type implementing `duroxide::Activity`, with
/// `charge::NAME`, `charge::schedule(&ctx, args..)`,
/// `charge::schedule_with_retry(&ctx, policy, args..)` and `charge::run(ctx, args..)` (the
/// body, for unit tests). It is registered with every `Runtime::builder` in the binary.
/// Calling `charge(..)` directly is a compile error. Arguments travel as a JSON array, the
/// result as JSON (see `duroxide::typed` for the exact rules). Activities are never linted.
#[proc_macro_attribute]
pub fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Kind::Activity, args.into(), item.into(), source_text()).into()
}

/// Turns `async fn name(ctx: OrchestrationContext, args..) -> Result<T, E>` into an
/// orchestration, and rejects nondeterministic code in its body at compile time.
///
/// ```ignore
/// #[orchestration(version = "1.0.0")]   // name = "..", allow(D8, ..) also accepted
/// async fn checkout(ctx: OrchestrationContext, order: Order) -> Result<Receipt, String> {
///     let receipt = charge::schedule(&ctx, order.id, order.cents).await?;
///     Ok(receipt)
/// }
///
/// checkout::start(&client, "order-42", order).await?;
/// let receipt: Receipt = checkout::wait(&client, "order-42", timeout).await??;
/// ```
///
/// `checkout` becomes a marker type implementing `duroxide::Orchestration`, with `NAME`,
/// `VERSION`, `schedule`/`schedule_with_id` (as a sub-orchestration), `start_detached`,
/// `start` and `wait` (typed result; failures that are not the orchestration's own `Err`
/// come back as a `duroxide::WaitError`). The determinism lints D1-D13 of
/// `docs/determinism.md` apply to the body; `#[duroxide::allow(D1)]` on a statement or
/// `allow(D1)` in the attribute opts out.
#[proc_macro_attribute]
pub fn orchestration(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Kind::Orchestration, args.into(), item.into(), source_text()).into()
}

/// Applies the orchestration determinism lints to a helper fn (any fn: sync or async,
/// free or a method) that orchestrations call. The fn is otherwise unchanged.
///
/// ```ignore
/// #[duroxide::deterministic]            // or #[duroxide::deterministic(allow(D8))]
/// fn pick_reviewer(ctx: &OrchestrationContext, reviewers: &[String]) -> String { .. }
/// ```
#[proc_macro_attribute]
pub fn deterministic(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Kind::Deterministic, args.into(), item.into(), source_text()).into()
}

/// The text of the file holding the annotated item, to resolve `use` aliases declared
/// outside the fn. `None` when the compiler cannot say (older Rust, generated code).
fn source_text() -> Option<String> {
    #[cfg(duroxide_local_file)]
    {
        let path = proc_macro::Span::call_site().local_file()?;
        std::fs::read_to_string(path).ok()
    }
    #[cfg(not(duroxide_local_file))]
    {
        None
    }
}
