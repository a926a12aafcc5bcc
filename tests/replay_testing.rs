//! `duroxide::testing`: recorded histories replay against unchanged code and flag changed
//! code before it is deployed.

use std::time::Duration;

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::testing::{replay_instance, ReplayMismatch};
use duroxide::{ActivityContext, Either2, OrchestrationContext, OrchestrationRegistry};
use duroxide_tests::Harness;

fn registry(second_step: &'static str) -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Flow",
            move |ctx: OrchestrationContext, input: String| async move {
                let a = ctx.schedule_activity("Step", input).await?;
                let b = match ctx
                    .select2(
                        ctx.schedule_timer(Duration::from_millis(5)),
                        ctx.schedule_wait("Skip"),
                    )
                    .await
                {
                    Either2::First(()) => ctx.schedule_activity(second_step, a).await?,
                    Either2::Second(_) => a,
                };
                if b.len() < 12 {
                    return ctx.continue_as_new(b).await;
                }
                Ok(b)
            },
        )
        .build()
}

#[tokio::test]
async fn replay_testing_recorded_histories_accept_same_code_and_flag_changes() {
    let activities = ActivityRegistry::builder()
        .register("Step", |_ctx: ActivityContext, s: String| async move {
            Ok(format!("{s}+"))
        })
        .register("Other", |_ctx: ActivityContext, s: String| async move {
            Ok(format!("{s}*"))
        })
        .build();
    let h = Harness::start(activities, registry("Step")).await;
    let output = h.output("flow-1", "Flow", "go").await;
    assert_eq!(output.len(), 12, "{output}");
    assert!(
        h.client.list_executions("flow-1").await.unwrap().len() > 1,
        "continue-as-new happened"
    );

    assert_eq!(
        replay_instance(&h.client, &registry("Step"), "flow-1").await,
        Ok(())
    );
    match replay_instance(&h.client, &registry("Other"), "flow-1").await {
        Err(ReplayMismatch::Nondeterminism(message)) => {
            assert!(
                message.contains("'Step'") && message.contains("'Other'"),
                "{message}"
            );
        }
        other => panic!("expected nondeterminism, got {other:?}"),
    }
}
