//! Auto-registration across crates: the orchestrations and activities of the
//! `remote-workflows` fixture crate run here although this binary registers nothing.

use duroxide::OrchestrationStatus;
use duroxide_tests::{Harness, WAIT};
use remote_workflows::{greet_all, greet_all_v2, remote_greet, Card};

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn macros_remote_fns_are_registered_without_naming_them() {
    let h = Harness::start_auto(None, None).await;
    // Started by name, as another service would: the latest version (2.0.0) runs.
    h.client
        .start_orchestration("by-name", "greet_all", r#"[["ada","bob"]]"#)
        .await
        .unwrap();
    let cards = greet_all_v2::wait(&h.client, "by-name", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cards[0].text, "Hello, ada!");
    let info = h
        .client
        .get_instance_info("by-name")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version.as_deref(), Some("2.0.0"));
}

#[tokio::test]
async fn macros_remote_typed_stubs_pin_their_version() {
    let h = Harness::start_auto(None, None).await;
    greet_all::start(&h.client, "v1", names(&["cy", "di"]))
        .await
        .unwrap();
    let cards = greet_all::wait(&h.client, "v1", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cards,
        vec![
            Card {
                to: "cy".into(),
                text: "Hello, cy.".into()
            },
            Card {
                to: "di".into(),
                text: "Hello, di.".into()
            },
        ]
    );
    // The remote activity's own error comes back as the orchestration's error.
    greet_all_v2::start(&h.client, "empty", names(&["ed", ""]))
        .await
        .unwrap();
    assert_eq!(
        greet_all_v2::wait(&h.client, "empty", WAIT).await.unwrap(),
        Err("nobody to greet".to_string())
    );
    assert!(matches!(
        h.wait("empty").await,
        OrchestrationStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn macros_remote_records_name_their_crate() {
    let remote: Vec<String> = duroxide::autoreg::orchestrations()
        .iter()
        .filter(|r| r.name() == "greet_all")
        .map(|r| format!("{} {}", r.version(), r.origin()))
        .collect();
    assert_eq!(remote.len(), 2, "{remote:?}");
    assert!(
        remote[0].starts_with("1.0.0 tests/fixtures/remote_workflows/src/lib.rs:"),
        "{remote:?}"
    );
    assert!(remote[0].contains("in `remote_workflows`"), "{remote:?}");
    assert!(remote[1].starts_with("2.0.0 "), "{remote:?}");
    assert_eq!(remote_greet::NAME, "remote_greet");
}
