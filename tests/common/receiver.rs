//! A webhook receiver on 127.0.0.1 for tests: records every request, and answers 503 while
//! it (or the path asked for) is set down.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    /// What the receiver answered.
    pub accepted: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on a free local port. While `down`, it answers 503.
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    down: Arc<Mutex<bool>>,
    /// Paths that answer 503 whatever `down` says.
    down_at: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, format!("http://{addr}"))
    }

    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }

    /// Sets one path down (503) or back up, the others as they are.
    pub fn set_down_at(&self, path: &str, down: bool) {
        let mut paths = self.down_at.lock().unwrap();
        paths.retain(|p| p != path);
        if down {
            paths.push(path.to_string());
        }
    }

    /// Accepted deliveries to `path`.
    pub fn accepted(&self, path: &str) -> Vec<Received> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|r| r.accepted && r.path == path)
            .cloned()
            .collect()
    }

    pub fn attempts(&self, path: &str) -> usize {
        let got = self.got.lock().unwrap();
        got.iter().filter(|r| r.path == path).count()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = format!("/{path}");
    let accepted =
        !*receiver.down.lock().unwrap() && !receiver.down_at.lock().unwrap().contains(&path);
    receiver.got.lock().unwrap().push(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into(),
        accepted,
    });
    if accepted {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
