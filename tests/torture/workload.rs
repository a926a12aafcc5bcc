//! The workload: what each instance does, decided by its index alone ([`Plan::of`]), and the
//! orchestrations and activities that do it.
//!
//! Root instance `i` (orchestration [`ORCH`], input `"i"`):
//!
//! 1. with `continue_as_new`: execution 1 runs one activity and continues as new with its
//!    result carried in the input (`"i|<result>"`); the rest happens in execution 2;
//! 2. a chain of `chain` activities, each fed the previous result;
//! 3. a fan-out of `fan` activities joined in order;
//! 4. a durable timer of `timer_ms`;
//! 5. a wait for the external event [`EVENT`] (raised by every child process after each start);
//! 6. a sub-orchestration ([`CHILD_ORCH`]: a chain of two activities);
//! 7. an activity called with `schedule_activity_with_retry` that fails its first
//!    `flaky_failures` attempts (deterministically: the attempt number is read from history).
//!
//! Every activity appends one line `instance execution activity_id attempt` to the effect
//! file of its process before returning (see [`Effects`]).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, BackoffStrategy, Client, EventKind, OrchestrationContext,
    OrchestrationRegistry, RetryPolicy,
};

use crate::util::mix;

/// The root orchestration.
pub const ORCH: &str = "Torture";
/// The sub-orchestration.
pub const CHILD_ORCH: &str = "TortureChild";
/// The plain activity: `w(input)`.
pub const WORK: &str = "Work";
/// The activity that fails its first attempts.
pub const FLAKY: &str = "Flaky";
/// The external event instances wait for.
pub const EVENT: &str = "Go";
/// Its payload.
pub const EVENT_DATA: &str = "go";
/// Attempts the retry policy allows (more than the most failures a plan asks for).
pub const FLAKY_ATTEMPTS: u32 = 3;
/// Backoff between failed attempts (a durable timer).
pub const FLAKY_BACKOFF: Duration = Duration::from_millis(20);

/// The id of root instance `i` (torture).
pub fn instance_id(i: u64) -> String {
    format!("t{i:06}")
}

/// What instance `i` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Continue as new once, after one activity.
    pub continue_as_new: bool,
    /// Chained activities (1..=3).
    pub chain: u64,
    /// Fanned-out activities (0..=4).
    pub fan: u64,
    /// A durable timer of this many milliseconds.
    pub timer_ms: Option<u64>,
    /// Wait for the external event.
    pub event: bool,
    /// Run a sub-orchestration.
    pub sub: bool,
    /// Call the flaky activity with retries; it fails this many attempts first (0..=2).
    pub flaky_failures: Option<u32>,
}

impl Plan {
    /// The plan of instance `i`.
    pub fn of(i: u64) -> Plan {
        let h = mix(i ^ 0x746f_7274_7572_6521);
        Plan {
            continue_as_new: (h >> 32).is_multiple_of(4),
            chain: 1 + h % 3,
            fan: (h >> 8) % 5,
            timer_ms: (h >> 16).is_multiple_of(2).then_some(10 + (h >> 17) % 41),
            event: (h >> 24).is_multiple_of(3),
            sub: (h >> 28).is_multiple_of(4),
            flaky_failures: (h >> 36)
                .is_multiple_of(3)
                .then_some(((h >> 40) % 3) as u32),
        }
    }
}

/// The retry policy of the flaky activity.
pub fn flaky_policy() -> RetryPolicy {
    RetryPolicy::new(FLAKY_ATTEMPTS).with_backoff(BackoffStrategy::Fixed {
        delay: FLAKY_BACKOFF,
    })
}

async fn torture(ctx: OrchestrationContext, input: String) -> Result<String, String> {
    let (index, carried) = match input.split_once('|') {
        Some((i, c)) => (i, Some(c.to_string())),
        None => (input.as_str(), None),
    };
    let i: u64 = index
        .parse()
        .map_err(|e| format!("bad input '{input}': {e}"))?;
    let plan = Plan::of(i);
    if plan.continue_as_new && carried.is_none() {
        let pre = ctx.schedule_activity(WORK, format!("{i}.pre")).await?;
        return ctx.continue_as_new(format!("{i}|{pre}")).await;
    }

    let mut value = i.to_string();
    for k in 0..plan.chain {
        value = ctx.schedule_activity(WORK, format!("{value}.c{k}")).await?;
    }
    let fan = (0..plan.fan)
        .map(|k| ctx.schedule_activity(WORK, format!("{i}.f{k}")))
        .collect();
    let fan = ctx
        .join(fan)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .join(",");
    if let Some(ms) = plan.timer_ms {
        ctx.schedule_timer(Duration::from_millis(ms)).await;
    }
    let event = if plan.event {
        ctx.schedule_wait(EVENT).await
    } else {
        String::new()
    };
    let sub = if plan.sub {
        ctx.schedule_sub_orchestration(CHILD_ORCH, i.to_string())
            .await?
    } else {
        String::new()
    };
    let flaky = match plan.flaky_failures {
        Some(failures) => {
            ctx.schedule_activity_with_retry(FLAKY, format!("{i}:{failures}"), flaky_policy())
                .await?
        }
        None => String::new(),
    };
    let pre = carried.map(|c| format!("{c}/")).unwrap_or_default();
    Ok(format!("{pre}{value}|{fan}|{event}|{sub}|{flaky}"))
}

async fn torture_child(ctx: OrchestrationContext, input: String) -> Result<String, String> {
    let a = ctx.schedule_activity(WORK, format!("{input}.s0")).await?;
    let b = ctx.schedule_activity(WORK, format!("{a}.s1")).await?;
    Ok(format!("child({b})"))
}

/// The orchestrations of the workload.
pub fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(ORCH, torture)
        .register(CHILD_ORCH, torture_child)
        .build()
}

/// Where activities record their effects: one line `instance execution activity_id attempt`
/// per execution, appended (one `write` call per line) and flushed before the activity
/// returns, so a line exists for every execution whose result could have been committed.
#[derive(Clone, Default)]
pub struct Effects {
    file: Option<Arc<File>>,
}

impl Effects {
    /// Records into `path` (appending).
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Effects {
            file: Some(Arc::new(file)),
        })
    }

    /// Records nothing (the soak test).
    pub fn none() -> Self {
        Effects::default()
    }

    fn record(&self, ctx: &ActivityContext) -> Result<(), String> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let line = format!(
            "{} {} {} {}\n",
            ctx.instance_id(),
            ctx.execution_id(),
            ctx.activity_id(),
            ctx.attempt()
        );
        let mut file: &File = file;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| format!("recording the effect failed: {e}"))
    }
}

/// The activities of the workload. `Flaky` reads its instance's history through `client` to
/// learn which attempt it is.
pub fn activities(effects: Effects, client: Client) -> ActivityRegistry {
    let work_effects = effects.clone();
    ActivityRegistry::builder()
        .register(WORK, move |ctx: ActivityContext, input: String| {
            let effects = work_effects.clone();
            async move {
                let output = format!("w({input})");
                effects.record(&ctx)?;
                Ok(output)
            }
        })
        .register(FLAKY, move |ctx: ActivityContext, input: String| {
            let effects = effects.clone();
            let client = client.clone();
            async move {
                let (i, failures) = input
                    .split_once(':')
                    .ok_or_else(|| format!("bad flaky input '{input}'"))?;
                let failures: u32 = failures.parse().map_err(|e| format!("{e}"))?;
                // The attempt number is how many Flaky calls this execution scheduled up to
                // and including this one: the same on every redelivery of the same call.
                let history = client
                    .read_execution_history(ctx.instance_id(), ctx.execution_id())
                    .await
                    .map_err(|e| format!("reading history: {e}"))?;
                let attempt = history
                    .iter()
                    .filter(|e| {
                        e.event_id <= ctx.activity_id()
                            && matches!(&e.kind, EventKind::ActivityScheduled { name, .. } if name == FLAKY)
                    })
                    .count();
                let result = if attempt as u64 <= u64::from(failures) {
                    Err(format!("flaky {i}: attempt {attempt} fails"))
                } else {
                    Ok(format!("flaky({i})@{attempt}"))
                };
                effects.record(&ctx)?;
                result
            }
        })
        .build()
}
