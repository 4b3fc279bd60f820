//! A real SES v2 emulator (the npm package `aws-ses-v2-local`, which scripts/test.sh
//! installs into .local/ses) started on a free port on 127.0.0.1, and the mail it received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running emulator; stopped when dropped.
pub struct Ses {
    child: Option<Child>,
    /// Its base URL (the SES endpoint to send to).
    pub url: String,
    port: u16,
}

fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".local/ses/node_modules/.bin/aws-ses-v2-local");
    assert!(
        path.exists(),
        "the SES emulator is not installed: run scripts/ses-local.sh install (scripts/test.sh does)"
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Ses {
    /// An endpoint where nothing listens yet: `start` brings the emulator up on it later.
    pub fn not_started() -> Ses {
        let port = free_port();
        Ses {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// Starts the emulator on this endpoint and waits until it answers.
    pub async fn start(&mut self) {
        // The process's TLS provider, as `Notifier::new` installs it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let child = Command::new(binary())
            .args(["--port", &self.port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the SES emulator starts");
        self.child = Some(child);
        for _ in 0..200 {
            if reqwest::get(format!("{}/store", self.url)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SES emulator did not answer within 20 s");
    }

    /// Every email it received, oldest first.
    pub async fn emails(&self) -> Vec<Value> {
        let text = reqwest::get(format!("{}/store", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let store: Value = serde_json::from_str(&text).unwrap();
        store["emails"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Ses {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
