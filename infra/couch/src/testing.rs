//! Servers for tests: the shared CouchDB-API server (`infra/up` starts pouchdb-server on
//! 5984; `COUCHDB_URL` points elsewhere), and a pouchdb-server of a test's own, on disk, so
//! that a test can kill it as a crash would and start it again without touching the shared
//! one or losing what it acknowledged.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The CouchDB-API server tests use (`COUCHDB_URL`, else `infra/up`'s pouchdb-server).
pub fn couchdb_url() -> String {
    std::env::var("COUCHDB_URL").unwrap_or_else(|_| "http://127.0.0.1:5984".into())
}

/// The pouchdb-server executable: `POUCHDB_BIN`, else where `infra/up` installs it
/// (`$SHOPCORE_HOME/pouchdb`, `SHOPCORE_HOME` defaulting to `~/.local/share/shopcore`).
pub fn pouchdb_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("POUCHDB_BIN") {
        return path.into();
    }
    let home = std::env::var_os("SHOPCORE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/shopcore")
        });
    home.join("pouchdb/node_modules/.bin/pouchdb-server")
}

/// A pouchdb-server of a test's own, on disk under a directory the test owns.
pub struct OwnCouch {
    port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl OwnCouch {
    /// A server on a free port of its own, with its data under `dir`; not started yet.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::create_dir_all(dir.join("data"))?;
        Ok(Self {
            port,
            dir: dir.to_path_buf(),
            child: None,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers, at most 60 s.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        let child = tokio::process::Command::new(pouchdb_binary())
            .arg("--dir")
            .arg(self.dir.join("data"))
            .arg("--config")
            .arg(self.dir.join("config.json"))
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--no-color")
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while client.get(self.url()).send().await.is_err() {
            if tokio::time::Instant::now() >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "pouchdb-server did not answer on {} within 60 s",
                        self.url()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}
