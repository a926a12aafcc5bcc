//! Activity retries: [`RetryPolicy`] and the durable retry loop behind
//! [`OrchestrationContext::schedule_activity_with_retry`](super::OrchestrationContext::schedule_activity_with_retry).
//!
//! The loop is ordinary orchestration code built from durable primitives (activities and
//! timers), so every attempt, timeout and backoff is in history and replays exactly.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::combinators::Either2;
use super::context::OrchestrationContext;

/// How long to wait between attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackoffStrategy {
    /// Retry immediately.
    None,
    /// The same delay before every retry.
    Fixed {
        /// Delay between attempts.
        delay: Duration,
    },
    /// `base * attempt`, capped at `max`.
    Linear {
        /// Delay after the first failure.
        base: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// `base * factor^(attempt-1)`, capped at `max`.
    Exponential {
        /// Delay after the first failure.
        base: Duration,
        /// Growth factor per attempt.
        factor: u32,
        /// Upper bound.
        max: Duration,
    },
}

impl Default for BackoffStrategy {
    /// Exponential from 1 s, doubling, capped at 5 minutes.
    fn default() -> Self {
        BackoffStrategy::Exponential {
            base: Duration::from_secs(1),
            factor: 2,
            max: Duration::from_secs(300),
        }
    }
}

/// When and how often to retry a failed activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (at least 1).
    pub max_attempts: u32,
    /// Delay between attempts.
    pub backoff: BackoffStrategy,
    /// Give up on an attempt after this long (counted as a failed attempt). The attempt's
    /// activity is not interrupted; its late result is ignored.
    pub attempt_timeout: Option<Duration>,
}

impl RetryPolicy {
    /// `max_attempts` attempts with the default exponential backoff and no timeout.
    pub fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            backoff: BackoffStrategy::default(),
            attempt_timeout: None,
        }
    }

    /// Replaces the backoff strategy.
    pub fn with_backoff(mut self, backoff: BackoffStrategy) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets a per-attempt timeout.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The delay after failed attempt `attempt` (1-based) before the next one.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let attempt = attempt.max(1);
        match &self.backoff {
            BackoffStrategy::None => Duration::ZERO,
            BackoffStrategy::Fixed { delay } => *delay,
            BackoffStrategy::Linear { base, max } => base.saturating_mul(attempt).min(*max),
            BackoffStrategy::Exponential { base, factor, max } => {
                let growth = factor.checked_pow(attempt - 1).unwrap_or(u32::MAX);
                base.saturating_mul(growth).min(*max)
            }
        }
    }
}

pub(crate) async fn run(
    ctx: OrchestrationContext,
    name: String,
    input: String,
    policy: RetryPolicy,
) -> Result<String, String> {
    let attempts = policy.max_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        let call = ctx.schedule_activity(name.clone(), input.clone());
        let result = match policy.attempt_timeout {
            Some(timeout) => match ctx.select2(call, ctx.schedule_timer(timeout)).await {
                Either2::First(result) => result,
                Either2::Second(()) => Err(format!(
                    "activity '{name}' attempt {attempt} timed out after {timeout:?}"
                )),
            },
            None => call.await,
        };
        match result {
            Ok(output) => return Ok(output),
            Err(error) => last_error = error,
        }
        if attempt < attempts {
            let delay = policy.delay_after(attempt);
            if !delay.is_zero() {
                ctx.schedule_timer(delay).await;
            }
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_delays() {
        let exp = RetryPolicy::new(5);
        assert_eq!(exp.delay_after(1), Duration::from_secs(1));
        assert_eq!(exp.delay_after(3), Duration::from_secs(4));
        assert_eq!(exp.delay_after(40), Duration::from_secs(300));
        let lin = RetryPolicy::new(3).with_backoff(BackoffStrategy::Linear {
            base: Duration::from_millis(100),
            max: Duration::from_millis(250),
        });
        assert_eq!(lin.delay_after(2), Duration::from_millis(200));
        assert_eq!(lin.delay_after(3), Duration::from_millis(250));
        assert_eq!(RetryPolicy::new(0).max_attempts, 1);
    }
}
