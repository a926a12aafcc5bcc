//! The traits the macros implement can be implemented by hand; the typed helpers work the
//! same for both.
use std::time::Duration;

use duroxide::{typed, Activity, ActivityContext, Client, Orchestration, OrchestrationContext};

/// `#[activity] async fn double(ctx, x: u32) -> Result<u32, String>`, by hand.
pub struct Double;

impl Activity for Double {
    const NAME: &'static str = "double";
    type Input = (u32,);
    type Output = u32;
    type Error = String;

    async fn run(_ctx: ActivityContext, (x,): (u32,)) -> Result<u32, String> {
        x.checked_mul(2).ok_or_else(|| "overflow".into())
    }
}

/// An orchestration by hand, calling the activity through the typed helpers.
pub struct Quadruple;

impl Orchestration for Quadruple {
    const NAME: &'static str = "quadruple";
    const VERSION: &'static str = "1.0.1";
    type Input = (u32,);
    type Output = u32;
    type Error = String;

    async fn run(ctx: OrchestrationContext, (x,): (u32,)) -> Result<u32, String> {
        let twice = typed::schedule::<Double>(&ctx, (x,)).await?;
        typed::schedule::<Double>(&ctx, (twice,)).await
    }
}

duroxide::autoreg::submit! {
    duroxide::autoreg::ActivityRegistration::new::<Double>(file!(), line!(), module_path!())
}

#[allow(dead_code)]
async fn client_side(client: &Client) -> Result<u32, Box<dyn std::error::Error>> {
    typed::start::<Quadruple>(client, "q-1", (3,)).await?;
    Ok(typed::wait::<Quadruple>(client, "q-1", Duration::from_secs(5)).await??)
}

fn main() {
    let out = futures::executor::block_on(Double::run(ActivityContext::for_test("double"), (4,)));
    assert_eq!(out, Ok(8));
    assert!(duroxide::autoreg::activities()
        .iter()
        .any(|r| r.name() == "double"));
}
