//! Each durable replacement the lints suggest compiles, legitimate code that resembles a
//! flagged shape is not flagged, and the opt-outs work.
#![deny(warnings)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime as Clock};

use duroxide::{activity, orchestration, ActivityContext, Either2, OrchestrationContext};

/// A local fn that happens to be called `now`.
fn now() -> u64 {
    7
}

mod time {
    /// The user's own `time::sleep`: not the host's.
    pub fn sleep(_: u64) {}
}

#[activity]
async fn fetch(_ctx: ActivityContext, url: String) -> Result<String, String> {
    // Activities are never linted: I/O, clocks and randomness are what they are for.
    let started = std::time::Instant::now();
    let _ = std::env::var("HOME");
    println!("fetching {url} at {:?}", Clock::now());
    let _ = started.elapsed();
    Ok(url)
}

#[duroxide::deterministic]
fn total(counts: &BTreeMap<String, u32>) -> u32 {
    counts.values().sum()
}

struct Planner;

impl Planner {
    /// Methods can be checked too.
    #[duroxide::deterministic(allow(D8))]
    fn order(&self, items: &HashMap<String, u32>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in items.keys() {
            names.push(name.clone());
        }
        names.sort();
        names
    }
}

#[orchestration]
async fn replacements(
    ctx: OrchestrationContext,
    items: HashMap<String, u32>,
) -> Result<String, String> {
    // D1: time from history; a local fn named `now` is fine.
    let started = ctx.utc_now();
    let _ = now();
    // D2: a durable timer, and a timeout as a race against one.
    ctx.schedule_timer(Duration::from_millis(10)).await;
    match ctx
        .select2(
            fetch::schedule(&ctx, "a".into()),
            ctx.schedule_timer(Duration::from_secs(5)),
        )
        .await
    {
        Either2::First(result) => {
            result?;
        }
        Either2::Second(()) => return Err("timeout".into()),
    }
    time::sleep(1);
    // D3/D4: deterministic ids.
    let id = ctx.new_guid();
    // D5/D7: durable fan-out and select.
    let all = ctx
        .join(vec![
            fetch::schedule(&ctx, "b".into()),
            fetch::schedule(&ctx, "c".into()),
        ])
        .await;
    let (_, first) = ctx.select(vec![fetch::schedule(&ctx, "d".into())]).await;
    // D6: external events instead of channels.
    let approval = ctx.schedule_wait("approval");
    let _ = ctx
        .select2(approval, ctx.schedule_timer(Duration::from_secs(1)))
        .await;
    // D8: ordered maps, sorted keys, lookups and order-insensitive reductions.
    let ordered: BTreeMap<String, u32> = items.clone().into_iter().collect();
    for (name, count) in &ordered {
        ctx.trace_info(format!("{name}={count}"));
    }
    let mut keys: Vec<&String> = items.keys().collect();
    keys.sort();
    let mut names = items.keys().cloned().collect::<Vec<_>>();
    names.sort_unstable();
    let by_name = items.iter().collect::<BTreeMap<_, _>>();
    let _ = (names, by_name);
    let sum: u32 = items.values().sum();
    let n = items.len() + usize::from(items.contains_key("x"));
    let _ = items.get("a");
    let set: BTreeSet<u32> = [3, 1, 2].into_iter().collect();
    for x in &set {
        ctx.trace_debug(format!("{x}"));
    }
    let seen: HashSet<u32> = HashSet::new();
    let _ = seen.contains(&1);
    let _ = total(&ordered);
    let _ = Planner.order(&items);
    // D13: replay-safe logging.
    ctx.trace_info(format!("{started:?} {id} {all:?} {first:?} {sum} {n}"));
    // Allowed for one statement:
    #[duroxide::allow(D1)]
    let wall = Clock::now();
    #[duroxide::allow(D13, D9)]
    {
        println!("{:?} {:?}", wall, std::env::var("X"));
    }
    // `tokio::select!` with `biased;` polls in order: deterministic.
    let (a, b) = (std::future::ready(1), std::future::ready(2));
    let picked = tokio::select! { biased; x = a => x, y = b => y };
    Ok(format!("{picked}"))
}

#[orchestration(allow(D8, D13))]
async fn allowed_for_the_fn(
    ctx: OrchestrationContext,
    items: HashMap<String, u32>,
) -> Result<(), String> {
    for (name, count) in &items {
        println!("{name}: {count}");
    }
    ctx.trace_info("done");
    Ok(())
}

fn main() {}
