//! The API Lambda: wires the DynamoDB client once per cold start and hands the axum router to
//! lambda_http. No logic lives here.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    leadrouter::runtime::init_tracing(true);
    let app = leadrouter::runtime::Settings::from_env().app().await;
    lambda_http::run(leadrouter::http::router(app)).await
}
