//! The API Lambda: wires the DynamoDB client once per cold start and hands the axum router to
//! lambda_http. No logic lives here.

// One thread: an instance handles one invocation at a time, on at most one vCPU at the sizes
// template.yaml gives it. The multi-thread runtime's hand-offs between threads cost about
// 0.1 ms of CPU per DynamoDB call here (BENCHMARKS.md, "Stop 28").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    leadrouter::runtime::init_tracing(true);
    let app = leadrouter::runtime::Settings::from_env().app().await;
    lambda_http::run(leadrouter::http::router(app)).await
}
