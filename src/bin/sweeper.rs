//! The SLA sweeper Lambda, run every minute by an EventBridge schedule: wires the DynamoDB
//! client once per cold start and sweeps until shortly before the invocation's deadline.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    leadrouter::runtime::init_tracing(true);
    let app = leadrouter::runtime::Settings::from_env().app().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let report = leadrouter::app::sweep::scheduled(&app, event.context.deadline).await?;
            tracing::info!(?report, "sweep finished");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
