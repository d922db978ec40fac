//! The fake rates provider (`shopcore-commands fx-provider`): a real HTTP server that serves an
//! ECB daily reference rates document the way the ECB does, at
//! `GET /stats/eurofxref/eurofxref-daily.xml` (`text/xml`), so the sync reads it over the
//! network exactly as it would read `https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml`.
//!
//! A scenario changes what it serves:
//! - `PUT` of a document to the same path replaces it — any bytes up to 1 MiB, garbage
//!   included, since serving garbage is a scenario too; the answer says whether the document
//!   would be usable. With `FX_PROVIDER_FILE` it is written to that file (atomically) before it
//!   is served, and read back at the next start.
//! - `PUT /_fault` with `{"status": 500}` and/or `{"delayMs": 5000}` makes the document
//!   answer that status, or answer late (a provider that is slow or failing);
//!   `DELETE /_fault` ends it, `GET /_fault` shows it.
//!
//! Without a stored document it serves `infra/fx/eurofxref-daily.xml` (built in).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;

use super::document;

/// Where the ECB publishes its daily document, and where the provider serves it.
pub const RATES_PATH: &str = "/stats/eurofxref/eurofxref-daily.xml";
/// The document served until a scenario replaces it.
pub const DEFAULT_DOCUMENT: &str = include_str!("../../../infra/fx/eurofxref-daily.xml");
/// The largest document a `PUT` may store.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// A failure the provider plays on `GET` of the document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Answer this HTTP status (with a short text body) instead of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

struct ProviderState {
    document: RwLock<Bytes>,
    fault: RwLock<Fault>,
    file: Option<PathBuf>,
    /// One `PUT` at a time, so the file and the memory hold the same document.
    writing: tokio::sync::Mutex<()>,
}

/// The provider; cheap to clone.
#[derive(Clone)]
pub struct FxProvider {
    state: Arc<ProviderState>,
}

impl FxProvider {
    /// A provider serving the stored document of `file` when there is one, else the default.
    pub async fn open(file: Option<PathBuf>) -> anyhow::Result<Self> {
        let document = match &file {
            Some(path) => match tokio::fs::read(path).await {
                Ok(bytes) => {
                    tracing::info!(file = %path.display(), bytes = bytes.len(), "serving the stored rates document");
                    Bytes::from(bytes)
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Bytes::from_static(DEFAULT_DOCUMENT.as_bytes())
                }
                Err(error) => {
                    return Err(anyhow::Error::new(error)
                        .context(format!("while reading {}", path.display())))
                }
            },
            None => Bytes::from_static(DEFAULT_DOCUMENT.as_bytes()),
        };
        Ok(Self {
            state: Arc::new(ProviderState {
                document: RwLock::new(document),
                fault: RwLock::new(Fault::default()),
                file,
                writing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The document served now.
    pub fn document(&self) -> Bytes {
        self.state
            .document
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the served document (as a `PUT` does).
    pub async fn replace(&self, document: Bytes) -> std::io::Result<()> {
        let _writing = self.state.writing.lock().await;
        if let Some(path) = &self.state.file {
            write_atomically(path, &document).await?;
        }
        *self
            .state
            .document
            .write()
            .unwrap_or_else(PoisonError::into_inner) = document;
        Ok(())
    }

    /// Plays `fault` on every `GET` of the document until changed.
    pub fn set_fault(&self, fault: Fault) {
        *self
            .state
            .fault
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fault;
    }

    fn fault(&self) -> Fault {
        *self
            .state
            .fault
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route(RATES_PATH, get(serve_document).put(store_document))
            .route(
                "/_fault",
                get(show_fault).put(put_fault).delete(clear_fault),
            )
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves on `listener` in the background (tests); the task ends with the runtime.
    pub fn spawn(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let router = self.router();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fx provider stopped");
            }
        })
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

async fn serve_document(State(provider): State<FxProvider>) -> Response {
    let fault = provider.fault();
    if let Some(delay) = fault.delay_ms {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(status) = fault.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "the rates provider is failing (a scenario's fault)").into_response();
    }
    ([(header::CONTENT_TYPE, "text/xml")], provider.document()).into_response()
}

async fn store_document(State(provider): State<FxProvider>, body: Bytes) -> Response {
    let verdict = std::str::from_utf8(&body)
        .map_err(|_| "not UTF-8".to_owned())
        .and_then(|text| {
            document::parse(text, chrono::Utc::now().date_naive()).map_err(|e| e.to_string())
        });
    let bytes = body.len();
    if let Err(error) = provider.replace(body).await {
        tracing::error!(%error, "rates document not stored");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "stored": false, "detail": "the document could not be written to FX_PROVIDER_FILE" })),
        )
            .into_response();
    }
    let answer = match verdict {
        Ok(parsed) => {
            tracing::info!(bytes, date = %parsed.date, rates = parsed.rates.len(), "rates document replaced");
            json!({
                "stored": true, "bytes": bytes, "usable": true, "date": parsed.date.to_string(),
                "rates": parsed.rates.len(), "unknown": parsed.unknown, "invalid": parsed.invalid,
            })
        }
        Err(detail) => {
            tracing::warn!(bytes, %detail, "rates document replaced by one the sync cannot use");
            json!({ "stored": true, "bytes": bytes, "usable": false, "detail": detail })
        }
    };
    Json(answer).into_response()
}

async fn show_fault(State(provider): State<FxProvider>) -> Json<Fault> {
    Json(provider.fault())
}

async fn put_fault(
    State(provider): State<FxProvider>,
    Json(fault): Json<Fault>,
) -> Result<Json<Fault>, (StatusCode, String)> {
    if let Some(status) = fault.status {
        if StatusCode::from_u16(status).is_err() || status < 200 {
            return Err((
                StatusCode::BAD_REQUEST,
                "status: must be an HTTP status from 200 to 999".into(),
            ));
        }
    }
    tracing::info!(?fault, "rates provider fault set");
    provider.set_fault(fault);
    Ok(Json(fault))
}

async fn clear_fault(State(provider): State<FxProvider>) -> StatusCode {
    tracing::info!("rates provider fault cleared");
    provider.set_fault(Fault::default());
    StatusCode::NO_CONTENT
}
