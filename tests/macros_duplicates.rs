//! Duplicate registrations are refused at start-up, naming both definitions: here a local
//! activity reuses the name of one in the `remote-workflows` fixture crate.

use std::sync::Arc;

use duroxide::autoreg::{Origin, RegistrationProblem};
use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    activity, orchestration, ActivityContext, OrchestrationContext, OrchestrationRegistry, Runtime,
};
use remote_workflows::greet_all;

/// Same registered name as the fixture crate's activity: a duplicate.
#[activity(name = "remote_greet")]
async fn local_greet(
    _ctx: ActivityContext,
    name: String,
    _excited: bool,
) -> Result<String, String> {
    Ok(name)
}

/// Another version of a remote orchestration: not a duplicate.
#[orchestration(name = "greet_all", version = "3.0.0")]
async fn greet_all_v3(_ctx: OrchestrationContext, names: Vec<String>) -> Result<usize, String> {
    Ok(names.len())
}

async fn store() -> Arc<dyn Provider> {
    Arc::new(SledProvider::new_in_memory().await.unwrap())
}

#[tokio::test]
async fn macros_duplicates_name_both_source_locations() {
    let error = Runtime::builder(store().await).start().await.unwrap_err();
    assert_eq!(error.problems().len(), 1, "{error}");
    let RegistrationProblem::Duplicate {
        kind,
        name,
        first,
        second,
        ..
    } = &error.problems()[0]
    else {
        panic!("{error}")
    };
    assert_eq!((*kind, name.as_str()), ("activity", "remote_greet"));
    let both = format!("{first} | {second}");
    assert!(
        both.contains("tests/fixtures/remote_workflows/src/lib.rs:"),
        "{both}"
    );
    // The local definition is reported at the line of its attribute.
    let line = include_str!("macros_duplicates.rs")
        .lines()
        .position(|l| l.starts_with("#[activity(name = \"remote_greet\")]"))
        .unwrap()
        + 1;
    assert!(
        both.contains(&format!("tests/macros_duplicates.rs:{line} ")),
        "{both}"
    );
    let message = error.to_string();
    assert!(
        message.contains("activity 'remote_greet' is defined twice"),
        "{message}"
    );
    let _ = (greet_all::NAME, greet_all_v3::NAME, local_greet::NAME);
}

#[tokio::test]
async fn macros_duplicates_between_explicit_and_auto_registration() {
    let explicit = OrchestrationRegistry::builder()
        .register_versioned("greet_all", "3.0.0", |_ctx, input| async move { Ok(input) })
        .register_versioned("other", "1.0.0", |_ctx, input| async move { Ok(input) })
        .build();
    let error = Runtime::builder(store().await)
        .orchestrations(explicit)
        .start()
        .await
        .unwrap_err();
    // Both problems are reported at once.
    assert_eq!(error.problems().len(), 2, "{error}");
    let explicit_duplicate = error.problems().iter().any(|p| {
        matches!(p, RegistrationProblem::Duplicate { name, version: Some(v), second: Origin::Explicit, .. }
            if name == "greet_all" && v == "3.0.0")
    });
    assert!(explicit_duplicate, "{error}");
}

#[tokio::test]
async fn macros_duplicates_without_auto_registration_start_fine() {
    let activities = ActivityRegistry::builder()
        .register_activity::<local_greet>()
        .build();
    let rt = Runtime::builder(store().await)
        .without_auto_registration()
        .activities(activities)
        .start()
        .await
        .unwrap();
    rt.shutdown(None).await;
}
