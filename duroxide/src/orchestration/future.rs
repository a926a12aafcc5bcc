//! [`DurableFuture`]: the future every `schedule_*` call returns.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use super::state::{Outcome, Shared, Source};

/// A future whose result comes from history: an activity's result, a timer firing, an
/// external event, a sub-orchestration's result.
///
/// The work is scheduled when the `schedule_*` call is made, not when the future is first
/// polled; dropping the future does not unschedule it. Awaiting it resolves as soon as the
/// result is in history. Combine several with [`select2`](crate::OrchestrationContext::select2),
/// [`select`](crate::OrchestrationContext::select) or [`join`](crate::OrchestrationContext::join),
/// which resolve by history order, so replay always picks the same winner.
#[must_use = "the work is scheduled already; await the future to get its result (or `let _ =` to fire and forget)"]
pub struct DurableFuture<T> {
    shared: Arc<Shared>,
    source: Source,
    map: fn(Outcome) -> T,
    done: bool,
    _output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for DurableFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableFuture")
            .field("source", &self.source)
            .field("done", &self.done)
            .finish()
    }
}

impl<T> DurableFuture<T> {
    pub(crate) fn new(shared: Arc<Shared>, source: Source, map: fn(Outcome) -> T) -> Self {
        if matches!(source, Source::Wait(_)) {
            shared.lock().open_waits += 1;
        }
        DurableFuture {
            shared,
            source,
            map,
            done: false,
            _output: PhantomData,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The same scheduled work with another mapping of its outcome (the typed helpers in
    /// `crate::typed` use it). The new future takes this one's place.
    pub(crate) fn with_map<U>(mut self, map: fn(Outcome) -> U) -> DurableFuture<U> {
        let mapped = DurableFuture {
            shared: Arc::clone(&self.shared),
            source: self.source.clone(),
            map,
            done: self.done,
            _output: PhantomData,
        };
        // Marked done so that dropping `self` leaves the state's bookkeeping to `mapped`.
        self.done = true;
        mapped
    }

    /// The history index of this future's result, if it has arrived and is unconsumed.
    pub(crate) fn peek(&self, state: &super::state::EngineState) -> Option<u64> {
        if self.done {
            return None;
        }
        state.peek(&self.source)
    }

    /// Consumes the result (call only after `peek` returned `Some`).
    pub(crate) fn take(&mut self, state: &mut super::state::EngineState) -> Option<T> {
        if self.done {
            return None;
        }
        let outcome = state.take(&self.source)?;
        self.done = true;
        if matches!(self.source, Source::Wait(_)) {
            state.open_waits = state.open_waits.saturating_sub(1);
        }
        Some((self.map)(outcome))
    }

    pub(crate) fn register(&self, state: &mut super::state::EngineState, cx: &Context<'_>) {
        if !self.done {
            state.register(&self.source, cx.waker());
        }
    }
}

impl<T> Drop for DurableFuture<T> {
    fn drop(&mut self) {
        // An abandoned wait (e.g. the loser of a select) can no longer wake the code. If the
        // state is locked right now the count stays high, which only makes the engine's
        // "nothing durable can wake this code" check more conservative.
        if !self.done && matches!(self.source, Source::Wait(_)) {
            if let Ok(mut state) = self.shared.try_lock() {
                state.open_waits = state.open_waits.saturating_sub(1);
            }
        }
    }
}

impl<T> Future for DurableFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let shared = Arc::clone(&this.shared);
        let mut state = shared.lock();
        if let Some(value) = this.take(&mut state) {
            return Poll::Ready(value);
        }
        this.register(&mut state, cx);
        Poll::Pending
    }
}

/// The future returned by [`continue_as_new`](crate::OrchestrationContext::continue_as_new).
///
/// The request is recorded when `continue_as_new` is called; this future never resolves, so
/// `return ctx.continue_as_new(input).await;` ends the code there.
#[derive(Debug)]
pub struct ContinueAsNew<T = Result<String, String>> {
    _output: PhantomData<fn() -> T>,
}

impl<T> ContinueAsNew<T> {
    pub(crate) fn new() -> Self {
        ContinueAsNew {
            _output: PhantomData,
        }
    }
}

impl<T> Future for ContinueAsNew<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        Poll::Pending
    }
}

// Mappings from an outcome to what each schedule_* call promises. The `_ =>` arms cannot
// occur (each source only ever produces its own outcome kind); they return a descriptive
// error rather than panic.

pub(crate) fn map_result(outcome: Outcome) -> Result<String, String> {
    match outcome {
        Outcome::Activity(r) | Outcome::SubOrchestration(r) => r,
        Outcome::Event(data) => Ok(data),
        Outcome::Timer => Err("internal: a timer result was delivered to a result future".into()),
    }
}

pub(crate) fn map_unit(_outcome: Outcome) {}

pub(crate) fn map_event(outcome: Outcome) -> String {
    match outcome {
        Outcome::Event(data) => data,
        Outcome::Activity(r) | Outcome::SubOrchestration(r) => r.unwrap_or_else(|e| e),
        Outcome::Timer => String::new(),
    }
}

pub(crate) fn map_typed<T: DeserializeOwned>(outcome: Outcome) -> Result<T, String> {
    let payload = map_result(outcome)?;
    crate::json::decode::<T>(&payload)
}

pub(crate) fn map_typed_event<T: DeserializeOwned>(outcome: Outcome) -> Result<T, String> {
    crate::json::decode::<T>(&map_event(outcome))
}
