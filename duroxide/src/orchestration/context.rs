//! [`OrchestrationContext`]: everything orchestration code may use to make decisions.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::combinators::{Join2, Join3, JoinAll, Select2, Select3, SelectAll};
use super::decision::Decision;
use super::future::{
    map_event, map_result, map_typed, map_typed_event, map_unit, ContinueAsNew, DurableFuture,
};
use super::retry::RetryPolicy;
use super::state::{Outcome, Shared, Source};

/// A fixed namespace for deterministic GUIDs (UUID v5 of instance, execution and counter).
const GUID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6475_726f_7869_6465_9a1c_42f0_b7d3_e815);

/// The handle orchestration code uses to schedule work and read deterministic facts.
///
/// Cheap to clone; all clones belong to the same execution. Every `schedule_*` call records a
/// decision: on first execution it becomes an action the runtime carries out, on replay it is
/// matched against history (a mismatch fails the instance with a nondeterminism error).
#[derive(Clone)]
pub struct OrchestrationContext {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OrchestrationContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("OrchestrationContext")
            .field("instance", &st.instance)
            .field("execution_id", &st.execution_id)
            .field("name", &st.name)
            .finish()
    }
}

impl OrchestrationContext {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        OrchestrationContext { shared }
    }

    fn decide<T>(&self, decision: Decision, map: fn(Outcome) -> T) -> DurableFuture<T> {
        let id = self.shared.lock().decide(decision);
        let source = if id == 0 {
            Source::Never
        } else {
            Source::Scheduled(id)
        };
        DurableFuture::new(Arc::clone(&self.shared), source, map)
    }

    fn immediate<T>(&self, outcome: Outcome, map: fn(Outcome) -> T) -> DurableFuture<T> {
        DurableFuture::new(Arc::clone(&self.shared), Source::Immediate(outcome), map)
    }

    // ---- facts -------------------------------------------------------------------------

    /// The instance id.
    pub fn instance_id(&self) -> String {
        self.shared.lock().instance.clone()
    }

    /// The execution number (starts at 1; each `continue_as_new` adds one).
    pub fn execution_id(&self) -> u64 {
        self.shared.lock().execution_id
    }

    /// The orchestration's registered name.
    pub fn orchestration_name(&self) -> String {
        self.shared.lock().name.clone()
    }

    /// The version of the orchestration running this execution.
    pub fn orchestration_version(&self) -> String {
        self.shared.lock().version.clone()
    }

    /// True while the code is re-running over history recorded earlier (after a restart or a
    /// cache eviction). Side-effect-free logging should be skipped while replaying; the
    /// `trace_*` helpers do that for you.
    pub fn is_replaying(&self) -> bool {
        self.shared.lock().replaying
    }

    /// Deterministic current time: the execution's start time, advanced to the arrival time
    /// of each result the code has consumed. Replay returns exactly the same values.
    pub fn utc_now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.shared.lock().now_ms)
    }

    /// A deterministic, unique GUID (UUID v5 of the instance id, execution and a counter):
    /// replay returns the same sequence, different instances get different ones.
    pub fn new_guid(&self) -> String {
        let mut st = self.shared.lock();
        let counter = st.next_guid_counter();
        let name = format!("{}\u{0}{}\u{0}{}", st.instance, st.execution_id, counter);
        uuid::Uuid::new_v5(&GUID_NAMESPACE, name.as_bytes()).to_string()
    }

    // ---- activities --------------------------------------------------------------------

    /// Schedules an activity; the future resolves with its `Ok` or `Err` string.
    pub fn schedule_activity(
        &self,
        name: impl Into<String>,
        input: impl Into<String>,
    ) -> DurableFuture<Result<String, String>> {
        self.decide(
            Decision::Activity {
                name: name.into(),
                input: input.into(),
            },
            map_result,
        )
    }

    /// Schedules an activity with a JSON-encoded input and decodes its JSON output.
    ///
    /// A decode failure of the output resolves as `Err` naming the expected type.
    pub fn schedule_activity_typed<In: Serialize, Out: DeserializeOwned>(
        &self,
        name: impl Into<String>,
        input: &In,
    ) -> DurableFuture<Result<Out, String>> {
        match crate::json::encode(input) {
            Ok(input) => self.decide(
                Decision::Activity {
                    name: name.into(),
                    input,
                },
                map_typed::<Out>,
            ),
            Err(e) => self.immediate(Outcome::Activity(Err(e)), map_typed::<Out>),
        }
    }

    /// Schedules an activity and retries it according to `policy` (backoff between attempts
    /// and an optional per-attempt timeout, all with durable timers). Resolves with the first
    /// `Ok`, or the last `Err` once the attempts are used up.
    pub fn schedule_activity_with_retry(
        &self,
        name: impl Into<String>,
        input: impl Into<String>,
        policy: RetryPolicy,
    ) -> impl Future<Output = Result<String, String>> + Send + 'static {
        super::retry::run(self.clone(), name.into(), input.into(), policy)
    }

    /// [`schedule_activity_with_retry`](Self::schedule_activity_with_retry) with JSON payloads.
    pub fn schedule_activity_with_retry_typed<In: Serialize, Out: DeserializeOwned>(
        &self,
        name: impl Into<String>,
        input: &In,
        policy: RetryPolicy,
    ) -> impl Future<Output = Result<Out, String>> + Send + 'static {
        let ctx = self.clone();
        let name = name.into();
        let input = crate::json::encode(input);
        async move {
            let output = super::retry::run(ctx, name, input?, policy).await?;
            crate::json::decode::<Out>(&output)
        }
    }

    // ---- timers and events -------------------------------------------------------------

    /// A durable timer: resolves once `delay` has passed, even across restarts.
    pub fn schedule_timer(&self, delay: Duration) -> DurableFuture<()> {
        let now = self.shared.lock().now_ms;
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.decide(
            Decision::Timer {
                fire_at_ms: now.saturating_add(delay_ms),
            },
            map_unit,
        )
    }

    /// Waits for an external event named `name` (raised with `Client::raise_event`).
    ///
    /// Events are kept until a wait consumes them: an event raised before the code reaches
    /// this wait is delivered to it; several events of one name go to successive waits in
    /// arrival order.
    pub fn schedule_wait(&self, name: impl Into<String>) -> DurableFuture<String> {
        let name = name.into();
        let id = self
            .shared
            .lock()
            .decide(Decision::Wait { name: name.clone() });
        let source = if id == 0 {
            Source::Never
        } else {
            Source::Wait(name)
        };
        DurableFuture::new(Arc::clone(&self.shared), source, map_event)
    }

    /// [`schedule_wait`](Self::schedule_wait) decoding the event's JSON payload.
    pub fn schedule_wait_typed<T: DeserializeOwned>(
        &self,
        name: impl Into<String>,
    ) -> DurableFuture<Result<T, String>> {
        let name = name.into();
        let id = self
            .shared
            .lock()
            .decide(Decision::Wait { name: name.clone() });
        let source = if id == 0 {
            Source::Never
        } else {
            Source::Wait(name)
        };
        DurableFuture::new(Arc::clone(&self.shared), source, map_typed_event::<T>)
    }

    // ---- sub-orchestrations ------------------------------------------------------------

    /// Starts a child orchestration and resolves with its result. The child's instance id is
    /// derived deterministically from this instance (`<parent>::sub::<execution>::<event>`).
    pub fn schedule_sub_orchestration(
        &self,
        name: impl Into<String>,
        input: impl Into<String>,
    ) -> DurableFuture<Result<String, String>> {
        self.sub_orchestration(name.into(), None, None, input.into())
    }

    /// Like [`schedule_sub_orchestration`](Self::schedule_sub_orchestration) with an explicit
    /// child instance id. If that id already exists the future resolves with `Err`.
    pub fn schedule_sub_orchestration_with_id(
        &self,
        name: impl Into<String>,
        instance: impl Into<String>,
        input: impl Into<String>,
    ) -> DurableFuture<Result<String, String>> {
        self.sub_orchestration(name.into(), None, Some(instance.into()), input.into())
    }

    /// Like [`schedule_sub_orchestration_with_id`](Self::schedule_sub_orchestration_with_id)
    /// running a specific registered version of the child (`None`: the latest; `None` id:
    /// a derived one).
    pub fn schedule_sub_orchestration_versioned(
        &self,
        name: impl Into<String>,
        version: Option<String>,
        instance: Option<String>,
        input: impl Into<String>,
    ) -> DurableFuture<Result<String, String>> {
        self.sub_orchestration(name.into(), version, instance, input.into())
    }

    /// Sub-orchestration with JSON payloads.
    pub fn schedule_sub_orchestration_typed<In: Serialize, Out: DeserializeOwned>(
        &self,
        name: impl Into<String>,
        input: &In,
    ) -> DurableFuture<Result<Out, String>> {
        match crate::json::encode(input) {
            Ok(input) => self.decide(
                Decision::SubOrchestration {
                    name: name.into(),
                    version: None,
                    instance: None,
                    input,
                },
                map_typed::<Out>,
            ),
            Err(e) => self.immediate(Outcome::SubOrchestration(Err(e)), map_typed::<Out>),
        }
    }

    fn sub_orchestration(
        &self,
        name: String,
        version: Option<String>,
        instance: Option<String>,
        input: String,
    ) -> DurableFuture<Result<String, String>> {
        self.decide(
            Decision::SubOrchestration {
                name,
                version,
                instance,
                input,
            },
            map_result,
        )
    }

    /// Starts an independent orchestration instance (fire-and-forget). The start is recorded
    /// in history, so replay does not start it twice. If `instance` already exists nothing
    /// is started (a warning is logged).
    pub fn schedule_orchestration(
        &self,
        name: impl Into<String>,
        instance: impl Into<String>,
        input: impl Into<String>,
    ) {
        self.schedule_orchestration_versioned(name, None, instance, input);
    }

    /// [`schedule_orchestration`](Self::schedule_orchestration) of a specific version.
    pub fn schedule_orchestration_versioned(
        &self,
        name: impl Into<String>,
        version: Option<String>,
        instance: impl Into<String>,
        input: impl Into<String>,
    ) {
        self.shared.lock().decide(Decision::Detached {
            name: name.into(),
            version,
            instance: instance.into(),
            input: input.into(),
        });
    }

    /// [`schedule_orchestration`](Self::schedule_orchestration) with a JSON-encoded input.
    /// Returns `Err` (and starts nothing) if the input cannot be encoded.
    pub fn schedule_orchestration_typed<In: Serialize>(
        &self,
        name: impl Into<String>,
        instance: impl Into<String>,
        input: &In,
    ) -> Result<(), String> {
        let input = crate::json::encode(input)?;
        self.schedule_orchestration(name, instance, input);
        Ok(())
    }

    // ---- continue-as-new ---------------------------------------------------------------

    /// Ends this execution and starts a fresh one of the same instance with `input` (and
    /// an empty history). Use it for long-lived loops that would otherwise hit the history
    /// cap. External events not yet consumed are carried over to the new execution.
    ///
    /// The request is recorded immediately; the returned future never resolves, so write
    /// `return ctx.continue_as_new(input).await;`.
    pub fn continue_as_new(&self, input: impl Into<String>) -> ContinueAsNew {
        self.continue_as_new_versioned(None, input)
    }

    /// [`continue_as_new`](Self::continue_as_new) running `version` (`None`: the latest
    /// registered) in the next execution.
    pub fn continue_as_new_versioned(
        &self,
        version: Option<String>,
        input: impl Into<String>,
    ) -> ContinueAsNew {
        let mut st = self.shared.lock();
        if st.fatal.is_none() {
            st.continue_as_new = Some((input.into(), version));
        }
        ContinueAsNew::new()
    }

    /// [`continue_as_new`](Self::continue_as_new) with a JSON-encoded input; the future's
    /// output type is inferred from the surrounding `return`.
    pub fn continue_as_new_typed<In: Serialize, T>(&self, input: &In) -> ContinueAsNew<T> {
        match crate::json::encode(input) {
            Ok(input) => {
                let _recorded: ContinueAsNew = self.continue_as_new(input);
            }
            Err(message) => {
                let mut st = self.shared.lock();
                st.fatal
                    .get_or_insert(crate::ErrorDetails::application(message));
            }
        }
        ContinueAsNew::new()
    }

    // ---- combinators -------------------------------------------------------------------

    /// Resolves with whichever of `a` and `b` has its result earliest in history.
    pub fn select2<A, B>(&self, a: DurableFuture<A>, b: DurableFuture<B>) -> Select2<A, B> {
        Select2::new(a, b)
    }

    /// Resolves with whichever of three futures has its result earliest in history.
    pub fn select3<A, B, C>(
        &self,
        a: DurableFuture<A>,
        b: DurableFuture<B>,
        c: DurableFuture<C>,
    ) -> Select3<A, B, C> {
        Select3::new(a, b, c)
    }

    /// Resolves with `(position, result)` of the future whose result is earliest in history.
    /// An empty list never resolves.
    pub fn select<T>(&self, futures: Vec<DurableFuture<T>>) -> SelectAll<T> {
        SelectAll::new(futures)
    }

    /// Resolves when all futures have, with their results in the order given.
    pub fn join<T>(&self, futures: Vec<DurableFuture<T>>) -> JoinAll<T> {
        JoinAll::new(futures)
    }

    /// Resolves when both futures have.
    pub fn join2<A, B>(&self, a: DurableFuture<A>, b: DurableFuture<B>) -> Join2<A, B> {
        Join2::new(a, b)
    }

    /// Resolves when all three futures have.
    pub fn join3<A, B, C>(
        &self,
        a: DurableFuture<A>,
        b: DurableFuture<B>,
        c: DurableFuture<C>,
    ) -> Join3<A, B, C> {
        Join3::new(a, b, c)
    }

    // ---- replay-safe logging -----------------------------------------------------------

    /// Logs at INFO, except while replaying (so each line is emitted once).
    pub fn trace_info(&self, message: impl Into<String>) {
        self.trace(tracing::Level::INFO, message.into());
    }

    /// Logs at WARN, except while replaying.
    pub fn trace_warn(&self, message: impl Into<String>) {
        self.trace(tracing::Level::WARN, message.into());
    }

    /// Logs at ERROR, except while replaying.
    pub fn trace_error(&self, message: impl Into<String>) {
        self.trace(tracing::Level::ERROR, message.into());
    }

    /// Logs at DEBUG, except while replaying.
    pub fn trace_debug(&self, message: impl Into<String>) {
        self.trace(tracing::Level::DEBUG, message.into());
    }

    fn trace(&self, level: tracing::Level, message: String) {
        let st = self.shared.lock();
        if st.replaying {
            return;
        }
        let (instance, execution, name) = (&st.instance, st.execution_id, &st.name);
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(
                    target: "duroxide::orchestration",
                    instance_id = %instance,
                    execution_id = execution,
                    orchestration_name = %name,
                    "{message}"
                )
            };
        }
        match level {
            tracing::Level::ERROR => emit!(error),
            tracing::Level::WARN => emit!(warn),
            tracing::Level::INFO => emit!(info),
            tracing::Level::DEBUG => emit!(debug),
            tracing::Level::TRACE => emit!(trace),
        }
    }
}
