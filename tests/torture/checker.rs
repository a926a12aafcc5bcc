//! The checker: reads a store left by the workload (through the public `Client` read API,
//! no runtime) and the activities' effect files, and verifies everything against a model of
//! the workload written here independently of the orchestration code:
//!
//! - every root instance and every sub-orchestration completed with exactly the output the
//!   model computes from its index; no other instance exists;
//! - every execution's history: event ids are 1..n; it starts with `OrchestrationStarted`
//!   (with the expected input) and ends with exactly one terminal event of the expected kind;
//!   its decisions are exactly the model's, in order (a decision recorded twice counts as a
//!   duplicated decision); every completion refers to an earlier decision of the right kind
//!   and is applied at most once; every decision is completed; results are the expected ones;
//! - effects: every activity completion in history has at least one effect line (no result
//!   without an execution), every effect line belongs to a scheduled activity, and effect
//!   lines beyond one per `(instance, execution, activity id)` are counted as re-executions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::{Client, Event, EventKind, OrchestrationStatus};

use crate::workload::{
    instance_id, Plan, CHILD_ORCH, EVENT, EVENT_DATA, FLAKY, FLAKY_ATTEMPTS, ORCH, WORK,
};

/// Error messages kept for the report (the counters count all of them).
const MAX_MESSAGES: usize = 30;

/// What the checker found.
#[derive(Debug, Default)]
pub struct Report {
    /// Root instances checked.
    pub roots: u64,
    /// Sub-orchestration instances checked.
    pub sub_instances: u64,
    /// Executions checked.
    pub executions: u64,
    /// Instances (root or sub) missing or not finished.
    pub lost: u64,
    /// Instances finished with another output than the model's, or failed.
    pub wrong_outputs: u64,
    /// Decisions recorded more often than the model has them, plus completions applied twice.
    pub duplicated_decisions: u64,
    /// Other history defects (ids, order, unknown or missing completions, bad results).
    pub history_errors: u64,
    /// Instances in the store the workload does not explain.
    pub unexpected_instances: u64,
    /// Activity calls scheduled in all histories.
    pub activities: u64,
    /// Effect lines (activity executions).
    pub activity_executions: u64,
    /// Effect lines beyond the first of each call.
    pub re_executions: u64,
    /// Activity completions in history with no effect line (a result nobody produced).
    pub missing_effects: u64,
    /// Effect lines of no scheduled activity.
    pub orphan_effects: u64,
    /// Effect lines that do not parse.
    pub bad_effect_lines: u64,
    /// Durable timers fired.
    pub timers: u64,
    /// External events recorded (duplicates included).
    pub events: u64,
    /// The first error messages.
    pub messages: Vec<String>,
}

impl Report {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.wrong_outputs == 0
            && self.duplicated_decisions == 0
            && self.history_errors == 0
            && self.unexpected_instances == 0
            && self.missing_effects == 0
            && self.orphan_effects == 0
            && self.bad_effect_lines == 0
    }

    fn note(&mut self, message: String) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push(message);
        }
    }
}

// ---- the model -----------------------------------------------------------------------------

/// A decision as the model expects it (and as read back from history).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Decision {
    /// An activity call and whether it succeeded.
    Activity {
        name: String,
        input: String,
        ok: bool,
    },
    Timer,
    Wait(String),
    Sub {
        name: String,
        input: String,
    },
    /// Anything else the workload never decides (a detached start).
    Other(String),
}

/// How an execution ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    ContinuedAsNew(String),
    Completed(String),
}

/// One execution as the model expects it.
#[derive(Debug, Clone)]
struct Expected {
    name: &'static str,
    input: String,
    decisions: Vec<Decision>,
    end: End,
}

fn w(s: impl std::fmt::Display) -> String {
    format!("w({s})")
}

fn work(input: String) -> Decision {
    Decision::Activity {
        name: WORK.into(),
        input,
        ok: true,
    }
}

/// The output of the sub-orchestration of root `i`.
fn child_output(i: u64) -> String {
    format!("child({})", w(format!("{}.s1", w(format!("{i}.s0")))))
}

/// The output of root instance `i`.
pub fn expected_output(i: u64) -> String {
    let plan = Plan::of(i);
    let pre = if plan.continue_as_new {
        format!("{}/", w(format!("{i}.pre")))
    } else {
        String::new()
    };
    let mut value = i.to_string();
    for k in 0..plan.chain {
        value = w(format!("{value}.c{k}"));
    }
    let fan: Vec<String> = (0..plan.fan).map(|k| w(format!("{i}.f{k}"))).collect();
    let event = if plan.event { EVENT_DATA } else { "" };
    let sub = if plan.sub {
        child_output(i)
    } else {
        String::new()
    };
    let flaky = plan
        .flaky_failures
        .map(|f| format!("flaky({i})@{}", f + 1))
        .unwrap_or_default();
    format!("{pre}{value}|{}|{event}|{sub}|{flaky}", fan.join(","))
}

/// The executions of root instance `i`, in order.
fn expected_root(i: u64) -> Vec<Expected> {
    let plan = Plan::of(i);
    let mut executions = Vec::new();
    let mut input = i.to_string();
    if plan.continue_as_new {
        let next = format!("{i}|{}", w(format!("{i}.pre")));
        executions.push(Expected {
            name: ORCH,
            input: input.clone(),
            decisions: vec![work(format!("{i}.pre"))],
            end: End::ContinuedAsNew(next.clone()),
        });
        input = next;
    }
    let mut decisions = Vec::new();
    let mut value = i.to_string();
    for k in 0..plan.chain {
        let call = format!("{value}.c{k}");
        value = w(&call);
        decisions.push(work(call));
    }
    decisions.extend((0..plan.fan).map(|k| work(format!("{i}.f{k}"))));
    if plan.timer_ms.is_some() {
        decisions.push(Decision::Timer);
    }
    if plan.event {
        decisions.push(Decision::Wait(EVENT.into()));
    }
    if plan.sub {
        decisions.push(Decision::Sub {
            name: CHILD_ORCH.into(),
            input: i.to_string(),
        });
    }
    if let Some(failures) = plan.flaky_failures {
        assert!(failures < FLAKY_ATTEMPTS, "the plan must end in success");
        for attempt in 1..=failures + 1 {
            decisions.push(Decision::Activity {
                name: FLAKY.into(),
                input: format!("{i}:{failures}"),
                ok: attempt > failures,
            });
            if attempt <= failures {
                decisions.push(Decision::Timer);
            }
        }
    }
    executions.push(Expected {
        name: ORCH,
        input,
        decisions,
        end: End::Completed(expected_output(i)),
    });
    executions
}

/// The single execution of the sub-orchestration of root `i`.
fn expected_child(i: u64) -> Expected {
    Expected {
        name: CHILD_ORCH,
        input: i.to_string(),
        decisions: vec![
            work(format!("{i}.s0")),
            work(format!("{}.s1", w(format!("{i}.s0")))),
        ],
        end: End::Completed(child_output(i)),
    }
}

// ---- effects -------------------------------------------------------------------------------

/// `(instance, execution, activity id)` of an activity call.
type CallKey = (String, u64, u64);

/// Every effect line of every `effects-*.log` in `dir`: executions per call.
fn read_effects(dir: &Path, report: &mut Report) -> std::io::Result<HashMap<CallKey, u64>> {
    let mut effects: HashMap<CallKey, u64> = HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("effects-") && n.ends_with(".log"))
        })
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let parsed = match fields.as_slice() {
                [instance, execution, id, attempt] => match (
                    execution.parse::<u64>(),
                    id.parse::<u64>(),
                    attempt.parse::<u32>(),
                ) {
                    (Ok(e), Ok(id), Ok(_)) => Some((instance.to_string(), e, id)),
                    _ => None,
                },
                _ => None,
            };
            match parsed {
                Some(key) => {
                    report.activity_executions += 1;
                    *effects.entry(key).or_default() += 1;
                }
                None => {
                    report.bad_effect_lines += 1;
                    report.note(format!(
                        "{}: unparsable effect line {line:?}",
                        path.display()
                    ));
                }
            }
        }
    }
    Ok(effects)
}

// ---- histories -----------------------------------------------------------------------------

/// What checking one execution learned besides its errors.
#[derive(Default)]
struct Seen {
    /// Sub-orchestration instance ids it scheduled.
    children: Vec<String>,
}

/// Why a completion event is wrong.
enum Problem {
    /// It completes a decision that was already completed.
    Duplicate(String),
    /// Anything else.
    Defect(String),
}

/// Checks that event `id`, a `kind` completion of `source`, completes an earlier decision of
/// that kind not completed before, and marks it completed. Returns the decision's index.
fn completion(
    by_id: &mut BTreeMap<u64, (usize, bool)>,
    decisions: &[Decision],
    id: u64,
    source: u64,
    kind: &str,
) -> Result<usize, Problem> {
    if source >= id {
        return Err(Problem::Defect(format!(
            "event {id} completes later event {source}"
        )));
    }
    let Some((index, done)) = by_id.get_mut(&source) else {
        return Err(Problem::Defect(format!(
            "event {id} completes {source}, which is no decision"
        )));
    };
    let matches_kind = matches!(
        (&decisions[*index], kind),
        (Decision::Activity { .. }, "activity")
            | (Decision::Timer, "timer")
            | (Decision::Sub { .. }, "sub")
    );
    if !matches_kind {
        return Err(Problem::Defect(format!(
            "event {id} is a {kind} completion of {source}, a {:?}",
            decisions[*index]
        )));
    }
    if *done {
        return Err(Problem::Duplicate(format!(
            "decision {source} completed twice (again by event {id})"
        )));
    }
    *done = true;
    Ok(*index)
}

/// Checks one execution's history against the model. `calls` collects its activity calls.
fn check_execution(
    instance: &str,
    execution: u64,
    history: &[Event],
    expected: &Expected,
    effects: &HashMap<CallKey, u64>,
    calls: &mut HashSet<CallKey>,
    report: &mut Report,
) -> Seen {
    let at = format!("{instance}/{execution}");
    let mut seen = Seen::default();
    let mut errors: Vec<String> = Vec::new();
    report.executions += 1;

    let ids: Vec<u64> = history.iter().map(|e| e.event_id).collect();
    if ids != (1..=history.len() as u64).collect::<Vec<_>>() {
        errors.push(format!("event ids are not 1..n: {ids:?}"));
    }
    match history.first().map(|e| &e.kind) {
        Some(EventKind::OrchestrationStarted { name, input, .. }) => {
            if name != expected.name || *input != expected.input {
                errors.push(format!(
                    "started {name}({input:?}), expected {}({:?})",
                    expected.name, expected.input
                ));
            }
        }
        other => errors.push(format!(
            "first event is {:?}, not OrchestrationStarted",
            other.map(EventKind::name)
        )),
    }

    // Decisions by event id: (the decision, index in `decisions`, completed?).
    let mut decisions: Vec<Decision> = Vec::new();
    let mut by_id: BTreeMap<u64, (usize, bool)> = BTreeMap::new();
    let mut timer_due: HashMap<u64, u64> = HashMap::new();
    let mut child_of: HashMap<u64, String> = HashMap::new();
    let mut events_by_name: HashMap<String, u64> = HashMap::new();
    let mut dups: Vec<String> = Vec::new();
    let mut end: Option<End> = None;

    for (pos, event) in history.iter().enumerate() {
        let id = event.event_id;
        if end.is_some() {
            errors.push(format!(
                "event {id} ({}) after the terminal event",
                event.kind.name()
            ));
        }
        // A completion: checks its source and marks it; returns the source decision.
        let mut complete = |by_id: &mut BTreeMap<u64, (usize, bool)>,
                            decisions: &[Decision],
                            source: u64,
                            kind: &str|
         -> Option<usize> {
            match completion(by_id, decisions, id, source, kind) {
                Ok(index) => Some(index),
                Err(Problem::Duplicate(message)) => {
                    dups.push(message);
                    None
                }
                Err(Problem::Defect(message)) => {
                    errors.push(message);
                    None
                }
            }
        };
        match &event.kind {
            EventKind::OrchestrationStarted { .. } if pos == 0 => {}
            EventKind::OrchestrationStarted { .. } => {
                errors.push(format!("event {id}: a second OrchestrationStarted"))
            }
            EventKind::ActivityScheduled { name, input } => {
                by_id.insert(id, (decisions.len(), false));
                decisions.push(Decision::Activity {
                    name: name.clone(),
                    input: input.clone(),
                    ok: false,
                });
                report.activities += 1;
                calls.insert((instance.to_string(), execution, id));
            }
            EventKind::TimerCreated { fire_at_ms } => {
                by_id.insert(id, (decisions.len(), false));
                decisions.push(Decision::Timer);
                timer_due.insert(id, *fire_at_ms);
            }
            EventKind::ExternalSubscribed { name } => {
                // Waits are matched by name, not by id: no completion points at them.
                by_id.insert(id, (decisions.len(), true));
                decisions.push(Decision::Wait(name.clone()));
            }
            EventKind::SubOrchestrationScheduled {
                name,
                instance: child,
                input,
                ..
            } => {
                by_id.insert(id, (decisions.len(), false));
                decisions.push(Decision::Sub {
                    name: name.clone(),
                    input: input.clone(),
                });
                child_of.insert(id, child.clone());
                seen.children.push(child.clone());
            }
            EventKind::OrchestrationChained { name, instance, .. } => {
                by_id.insert(id, (decisions.len(), true));
                decisions.push(Decision::Other(format!("chained {name} {instance}")));
            }
            EventKind::ActivityCompleted {
                source_event_id,
                result,
            } => {
                if let Some(index) = complete(&mut by_id, &decisions, *source_event_id, "activity")
                {
                    if let Decision::Activity { name, input, ok } = &mut decisions[index] {
                        *ok = true;
                        if name == WORK && *result != w(&input) {
                            errors.push(format!(
                                "activity {source_event_id} {name}({input}) returned {result:?}"
                            ));
                        }
                        if effects
                            .get(&(instance.to_string(), execution, *source_event_id))
                            .is_none()
                        {
                            report.missing_effects += 1;
                            errors.push(format!(
                                "activity {source_event_id} completed in history but never ran"
                            ));
                        }
                    }
                }
            }
            EventKind::ActivityFailed {
                source_event_id,
                details,
            } => {
                if let Some(index) = complete(&mut by_id, &decisions, *source_event_id, "activity")
                {
                    if let Decision::Activity { name, .. } = &decisions[index] {
                        if name != FLAKY {
                            errors.push(format!(
                                "activity {source_event_id} {name} failed: {details:?}"
                            ));
                        }
                    }
                    if effects
                        .get(&(instance.to_string(), execution, *source_event_id))
                        .is_none()
                    {
                        report.missing_effects += 1;
                        errors.push(format!(
                            "activity {source_event_id} failed in history but never ran"
                        ));
                    }
                }
            }
            EventKind::TimerFired {
                source_event_id,
                fire_at_ms,
            } => {
                if complete(&mut by_id, &decisions, *source_event_id, "timer").is_some() {
                    report.timers += 1;
                    if timer_due.get(source_event_id) != Some(fire_at_ms) {
                        errors.push(format!(
                            "timer {source_event_id} fired for {fire_at_ms}, created for {:?}",
                            timer_due.get(source_event_id)
                        ));
                    }
                }
            }
            EventKind::ExternalEvent { name, data } => {
                report.events += 1;
                *events_by_name.entry(name.clone()).or_default() += 1;
                if name != EVENT || data != EVENT_DATA {
                    errors.push(format!("unexpected external event {name}({data})"));
                }
            }
            EventKind::SubOrchestrationCompleted {
                source_event_id,
                result,
            } => {
                if complete(&mut by_id, &decisions, *source_event_id, "sub").is_some() {
                    let expected = match expected.input.split('|').next().map(str::parse::<u64>) {
                        Some(Ok(i)) => child_output(i),
                        _ => String::new(),
                    };
                    if *result != expected {
                        errors.push(format!(
                            "sub-orchestration {source_event_id} ({:?}) returned {result:?}, expected {expected:?}",
                            child_of.get(source_event_id)
                        ));
                    }
                }
            }
            EventKind::SubOrchestrationFailed {
                source_event_id,
                details,
            } => {
                complete(&mut by_id, &decisions, *source_event_id, "sub");
                errors.push(format!(
                    "sub-orchestration {source_event_id} failed: {details:?}"
                ));
            }
            EventKind::OrchestrationCancelRequested { reason } => {
                errors.push(format!("event {id}: cancellation requested: {reason}"))
            }
            EventKind::OrchestrationCompleted { output } => {
                end = Some(End::Completed(output.clone()))
            }
            EventKind::OrchestrationContinuedAsNew { input } => {
                end = Some(End::ContinuedAsNew(input.clone()))
            }
            EventKind::OrchestrationFailed { details } => {
                end = Some(End::Completed(format!("FAILED: {details:?}")))
            }
        }
    }

    if end.as_ref() != Some(&expected.end) {
        errors.push(format!("ends with {end:?}, expected {:?}", expected.end));
    }
    for (id, (index, done)) in &by_id {
        if !done {
            errors.push(format!(
                "decision {id} ({:?}) never completed",
                decisions[*index]
            ));
        }
    }
    let waits = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Wait(n) if n == EVENT))
        .count() as u64;
    if events_by_name.get(EVENT).copied().unwrap_or(0) < waits {
        errors.push(format!("{waits} waits for {EVENT} but fewer events"));
    }

    // The decisions, in order, must be exactly the model's.
    let mut duplicated = dups.len() as u64;
    if decisions != expected.decisions {
        let mut counts: HashMap<&Decision, i64> = HashMap::new();
        for d in &decisions {
            *counts.entry(d).or_default() += 1;
        }
        for d in &expected.decisions {
            *counts.entry(d).or_default() -= 1;
        }
        let extra: i64 = counts.values().filter(|&&c| c > 0).sum();
        let missing: i64 = -counts.values().filter(|&&c| c < 0).sum::<i64>();
        let message = format!(
            "decisions differ from the model ({extra} extra, {missing} missing):\n      got      {decisions:?}\n      expected {:?}",
            expected.decisions
        );
        if extra > 0 {
            duplicated += extra as u64;
            if missing > 0 {
                errors.push(format!("{missing} decisions of the model missing"));
            }
            dups.push(message);
        } else {
            errors.push(message);
        }
    }

    report.duplicated_decisions += duplicated;
    if !errors.is_empty() {
        report.history_errors += 1;
    }
    if !errors.is_empty() || !dups.is_empty() {
        dups.extend(errors);
        report.note(format!("{at}: {}", dups.join("; ")));
    }
    seen
}

/// Checks one instance (root or sub): status, executions, histories. Returns the
/// sub-orchestrations it scheduled.
async fn check_instance(
    client: &Client,
    id: &str,
    expected: &[Expected],
    parent: Option<&str>,
    effects: &HashMap<CallKey, u64>,
    calls: &mut HashSet<CallKey>,
    report: &mut Report,
) -> Result<Vec<String>, String> {
    let Some(info) = client
        .get_instance_info(id)
        .await
        .map_err(|e| format!("read {id}: {e}"))?
    else {
        report.lost += 1;
        report.note(format!("{id}: lost (not in the store)"));
        return Ok(Vec::new());
    };
    let status = OrchestrationStatus::from(&info.status);
    let Some(End::Completed(output)) = expected.last().map(|e| &e.end) else {
        return Err("the model's last execution must complete".into());
    };
    match &status {
        OrchestrationStatus::Completed { output: got } if got == output => {}
        OrchestrationStatus::Completed { output: got } => {
            report.wrong_outputs += 1;
            report.note(format!("{id}: output {got:?}, expected {output:?}"));
        }
        OrchestrationStatus::Failed { details } => {
            report.wrong_outputs += 1;
            report.note(format!("{id}: failed: {details:?}"));
        }
        other => {
            report.lost += 1;
            report.note(format!("{id}: never finished: {other:?}"));
            return Ok(Vec::new());
        }
    }
    match (parent, &info.parent) {
        (None, None) => {}
        (Some(p), Some(link)) if link.instance == p => {}
        (p, link) => {
            report.history_errors += 1;
            report.note(format!("{id}: parent is {link:?}, expected {p:?}"));
        }
    }
    let executions = client
        .list_executions(id)
        .await
        .map_err(|e| format!("executions of {id}: {e}"))?;
    let expected_ids: Vec<u64> = (1..=expected.len() as u64).collect();
    if executions != expected_ids || info.execution_id != expected.len() as u64 {
        report.history_errors += 1;
        report.note(format!(
            "{id}: executions {executions:?} (current {}), expected {expected_ids:?}",
            info.execution_id
        ));
        return Ok(Vec::new());
    }
    let mut children = Vec::new();
    for (execution, model) in (1u64..).zip(expected) {
        let history = client
            .read_execution_history(id, execution)
            .await
            .map_err(|e| format!("history of {id}/{execution}: {e}"))?;
        if execution == info.execution_id && history.len() as u64 != info.history_len {
            report.history_errors += 1;
            report.note(format!(
                "{id}: record says {} events, history has {}",
                info.history_len,
                history.len()
            ));
        }
        let seen = check_execution(id, execution, &history, model, effects, calls, report);
        children.extend(seen.children);
    }
    Ok(children)
}

/// Checks the store in `dir/db` and the effect files in `dir` for `instances` roots.
pub async fn check(dir: &Path, db: &Path, instances: u64) -> Result<Report, String> {
    let mut report = Report::default();
    let effects = read_effects(dir, &mut report).map_err(|e| format!("read effects: {e}"))?;
    let store = SledProvider::new(db, None)
        .await
        .map_err(|e| format!("open store {}: {e}", db.display()))?;
    let store: Arc<dyn Provider> = Arc::new(store);
    let client = Client::new(store);

    let mut known: HashSet<String> = HashSet::new();
    let mut calls: HashSet<CallKey> = HashSet::new();
    for i in 0..instances {
        let id = instance_id(i);
        report.roots += 1;
        known.insert(id.clone());
        let children = check_instance(
            &client,
            &id,
            &expected_root(i),
            None,
            &effects,
            &mut calls,
            &mut report,
        )
        .await?;
        for child in children {
            report.sub_instances += 1;
            known.insert(child.clone());
            check_instance(
                &client,
                &child,
                &[expected_child(i)],
                Some(&id),
                &effects,
                &mut calls,
                &mut report,
            )
            .await?;
        }
    }
    for id in client
        .list_instances()
        .await
        .map_err(|e| format!("list instances: {e}"))?
    {
        if !known.contains(&id) {
            report.unexpected_instances += 1;
            report.note(format!("{id}: an instance the workload does not explain"));
        }
    }
    for (key, count) in &effects {
        if calls.contains(key) {
            report.re_executions += count - 1;
        } else {
            report.orphan_effects += 1;
            report.note(format!(
                "effect lines of {}/{} activity {} ({count}) match no scheduled activity",
                key.0, key.1, key.2
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_covers_every_feature() {
        let plans: Vec<Plan> = (0..200).map(Plan::of).collect();
        assert!(plans.iter().any(|p| p.continue_as_new));
        assert!(plans.iter().any(|p| p.event));
        assert!(plans.iter().any(|p| p.sub));
        assert!(plans.iter().any(|p| p.timer_ms.is_some()));
        assert!(plans.iter().any(|p| p.fan == 0) && plans.iter().any(|p| p.fan == 4));
        for f in 0..3 {
            assert!(plans.iter().any(|p| p.flaky_failures == Some(f)));
        }
    }

    /// A history that does exactly what the model says (each decision completed at once).
    fn history_of(expected: &Expected) -> Vec<Event> {
        let mut kinds = vec![EventKind::OrchestrationStarted {
            name: expected.name.into(),
            version: "1.0.0".into(),
            input: expected.input.clone(),
            parent: None,
        }];
        for d in &expected.decisions {
            let source = kinds.len() as u64 + 1;
            match d {
                Decision::Activity { name, input, ok } => {
                    kinds.push(EventKind::ActivityScheduled {
                        name: name.clone(),
                        input: input.clone(),
                    });
                    kinds.push(if *ok {
                        EventKind::ActivityCompleted {
                            source_event_id: source,
                            result: w(input),
                        }
                    } else {
                        EventKind::ActivityFailed {
                            source_event_id: source,
                            details: duroxide::ErrorDetails::application("no"),
                        }
                    });
                }
                Decision::Timer => {
                    kinds.push(EventKind::TimerCreated { fire_at_ms: 7 });
                    kinds.push(EventKind::TimerFired {
                        source_event_id: source,
                        fire_at_ms: 7,
                    });
                }
                Decision::Wait(name) => {
                    kinds.push(EventKind::ExternalEvent {
                        name: name.clone(),
                        data: EVENT_DATA.into(),
                    });
                    kinds.push(EventKind::ExternalSubscribed { name: name.clone() });
                }
                Decision::Sub { name, input } => {
                    kinds.push(EventKind::SubOrchestrationScheduled {
                        name: name.clone(),
                        version: None,
                        instance: format!("x::sub::{source}"),
                        input: input.clone(),
                    });
                    kinds.push(EventKind::SubOrchestrationCompleted {
                        source_event_id: source,
                        result: child_output(input.parse().unwrap()),
                    });
                }
                Decision::Other(_) => unreachable!(),
            }
        }
        kinds.push(match &expected.end {
            End::Completed(output) => EventKind::OrchestrationCompleted {
                output: output.clone(),
            },
            End::ContinuedAsNew(input) => EventKind::OrchestrationContinuedAsNew {
                input: input.clone(),
            },
        });
        renumber(kinds.into_iter().map(|kind| Event {
            event_id: 0,
            timestamp_ms: 1,
            kind,
        }))
    }

    fn renumber(events: impl IntoIterator<Item = Event>) -> Vec<Event> {
        (1u64..)
            .zip(events)
            .map(|(id, e)| Event { event_id: id, ..e })
            .collect()
    }

    /// Effects for every activity of `history` (as instance "x", execution 1).
    fn effects_of(history: &[Event]) -> HashMap<CallKey, u64> {
        history
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ActivityScheduled { .. }))
            .map(|e| (("x".to_string(), 1, e.event_id), 1))
            .collect()
    }

    fn check(history: &[Event], expected: &Expected, effects: &HashMap<CallKey, u64>) -> Report {
        let mut report = Report::default();
        check_execution(
            "x",
            1,
            history,
            expected,
            effects,
            &mut HashSet::new(),
            &mut report,
        );
        report
    }

    /// An instance with every feature: chain, fan-out, timer, event, sub, 2 flaky failures.
    fn rich_instance() -> u64 {
        (0..10_000)
            .find(|&i| {
                let p = Plan::of(i);
                p.timer_ms.is_some() && p.event && p.sub && p.fan > 1 && p.flaky_failures == Some(2)
            })
            .expect("some instance has every feature")
    }

    #[test]
    fn checker_accepts_the_model_itself() {
        for i in 0..300 {
            for expected in expected_root(i).iter().chain([&expected_child(i)]) {
                let history = history_of(expected);
                let report = check(&history, expected, &effects_of(&history));
                assert!(report.ok(), "{i}: {:?}", report.messages);
            }
        }
    }

    #[test]
    fn checker_counts_a_duplicated_decision() {
        let expected = expected_root(rich_instance()).pop().unwrap();
        let mut events = history_of(&expected);
        // The second activity scheduled (and completed) twice, as a lost-and-redone turn would.
        let copies: Vec<Event> = events[1..3].to_vec();
        let end = events.pop().unwrap();
        let source = events.len() as u64 + 1;
        events.push(copies[0].clone());
        let mut completion = copies[1].clone();
        if let EventKind::ActivityCompleted {
            source_event_id, ..
        } = &mut completion.kind
        {
            *source_event_id = source;
        }
        events.push(completion);
        events.push(end);
        let history = renumber(events);
        let report = check(&history, &expected, &effects_of(&history));
        assert_eq!(report.duplicated_decisions, 1, "{:?}", report.messages);
        assert!(!report.ok());
    }

    #[test]
    fn checker_counts_a_decision_completed_twice() {
        let expected = expected_root(rich_instance()).pop().unwrap();
        let mut events = history_of(&expected);
        let end = events.pop().unwrap();
        events.push(events[2].clone()); // the first completion again
        events.push(end);
        let history = renumber(events);
        let report = check(&history, &expected, &effects_of(&history));
        assert_eq!(report.duplicated_decisions, 1, "{:?}", report.messages);
    }

    #[test]
    fn checker_finds_gaps_order_missing_completions_and_effects() {
        let expected = expected_root(rich_instance()).pop().unwrap();
        let good = history_of(&expected);
        let effects = effects_of(&good);

        let mut gap = good.clone();
        gap.remove(3);
        gap.iter_mut().skip(3).for_each(|e| e.event_id += 1);
        assert_eq!(check(&gap, &expected, &effects).history_errors, 1);

        // Two decisions swapped (with their completions): same multiset, wrong order.
        let mut reordered = expected.clone();
        reordered.decisions.swap(0, 1);
        let swapped = history_of(&reordered);
        let report = check(&swapped, &expected, &effects_of(&swapped));
        assert_eq!(
            (report.history_errors, report.duplicated_decisions),
            (1, 0),
            "{:?}",
            report.messages
        );

        // A completion dropped: the decision is never completed.
        let mut unanswered = good.clone();
        unanswered.remove(2);
        let unanswered = renumber(unanswered);
        assert_eq!(check(&unanswered, &expected, &effects).history_errors, 1);

        // A completion without an effect line.
        let mut no_effects = effects.clone();
        no_effects.remove(&("x".to_string(), 1, 2));
        let report = check(&good, &expected, &no_effects);
        assert_eq!(report.missing_effects, 1);
        assert!(!report.ok());

        // A wrong result and a wrong output.
        let mut wrong = good.clone();
        if let EventKind::OrchestrationCompleted { output } = &mut wrong.last_mut().unwrap().kind {
            output.push('!');
        }
        assert_eq!(check(&wrong, &expected, &effects).history_errors, 1);
    }
}
