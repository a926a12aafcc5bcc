//! The by-name API and the typed stubs interoperate both ways, following the documented
//! payload rules (arguments as a JSON array, `Ok` as JSON, a string `Err` unquoted).
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    activity, orchestration, typed, ActivityContext, OrchestrationContext, OrchestrationRegistry,
};

#[activity]
async fn add(_ctx: ActivityContext, a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_string())
}

#[activity]
async fn shout(_ctx: ActivityContext, text: String) -> Result<String, String> {
    Ok(text.to_uppercase())
}

// A by-name orchestration calling typed activities.
async fn by_name(ctx: OrchestrationContext, input: String) -> Result<String, String> {
    let sum = ctx.schedule_activity("add", "[2,3]").await?; // "5"
    let loud = ctx
        .schedule_activity("shout", typed::encode_input(&(input,))?)
        .await?;
    let loud: String = typed::decode_output(&loud)?;
    Ok(format!("{sum} {loud}"))
}

// A typed orchestration calling a by-name activity.
#[orchestration]
async fn typed_flow(ctx: OrchestrationContext, name: String) -> Result<String, String> {
    let hello = ctx.schedule_activity("Hello", name).await?;
    let n: i64 = ctx.schedule_activity_typed("add", &(40, 2)).await?;
    Ok(format!("{hello} {n}"))
}

fn main() {
    assert_eq!(typed::encode_input(&(2i64, 3i64)).unwrap(), "[2,3]");
    assert_eq!(typed::encode_input(&("x",)).unwrap(), r#"["x"]"#);
    assert_eq!(typed::encode_error(&"overflow".to_string()), "overflow");

    // Explicit registration of the typed definitions, mixed with by-name handlers.
    let activities = ActivityRegistry::builder()
        .register_activity::<add>()
        .register_activity::<shout>()
        .register("Hello", |_ctx: ActivityContext, name: String| async move {
            Ok(format!("Hello, {name}!"))
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register("ByName", by_name)
        .register_orchestration::<typed_flow>()
        .build();
    assert!(activities.contains("add") && activities.contains("shout"));
    assert_eq!(orchestrations.versions("typed_flow"), vec!["1.0.0"]);
}
