//! Waking tailers after commits, without serialising the commits.
//!
//! A `NOTIFY` inside an appending transaction would take Postgres's notification-queue lock at
//! commit and so put every append in one line again. Instead, after an append commits,
//! [`AppendNotifier::notify`] asks a background task to send one `NOTIFY shopcore_events` in its
//! own statement; requests that arrive while one is being sent, or within
//! [`MIN_INTERVAL`] after it, are coalesced into the next. (Each notification is a small
//! transaction of its own, with a commit to flush: one per append would double the commits.) A
//! lost notification only costs latency: tailers also poll (see [`crate::tail`]).

use std::sync::OnceLock;

use sqlx::PgPool;
use tokio::sync::mpsc;

/// The channel tailers listen on.
pub const CHANNEL: &str = "shopcore_events";

/// Shortest time between two notifications: what a reader may wait at most beyond the commit.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(3);

/// Sends coalesced notifications of appends; see the module documentation.
#[derive(Debug)]
pub struct AppendNotifier {
    pool: PgPool,
    sender: OnceLock<mpsc::Sender<()>>,
}

impl AppendNotifier {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            sender: OnceLock::new(),
        }
    }

    /// Requests a notification. Never blocks; must be called inside a tokio runtime.
    pub fn notify(&self) {
        let sender = self.sender.get_or_init(|| {
            let (sender, mut requests) = mpsc::channel::<()>(1);
            let pool = self.pool.clone();
            tokio::spawn(async move {
                // Ends when the notifier (the last event store handle) is dropped.
                while requests.recv().await.is_some() {
                    if pool.is_closed() {
                        break;
                    }
                    if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                        .bind(CHANNEL)
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(%error, "append notification not sent; tailers poll");
                    }
                    tokio::time::sleep(MIN_INTERVAL).await;
                }
            });
            sender
        });
        // Full means a notification is already pending: this commit is covered by it.
        let _ = sender.try_send(());
    }
}
