//! The SLA sweeper Lambda, run every minute by an EventBridge schedule: wires the DynamoDB
//! client once per cold start and sweeps until shortly before the invocation's deadline.

use lambda_runtime::{service_fn, LambdaEvent};

// One thread: an instance handles one invocation at a time, on at most one vCPU at the sizes
// template.yaml gives it. The multi-thread runtime's hand-offs between threads cost about
// 0.1 ms of CPU per DynamoDB call here (BENCHMARKS.md, "Stop 28").
#[tokio::main(flavor = "current_thread")]
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
