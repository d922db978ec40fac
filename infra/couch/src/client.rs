//! The client: one [`CouchDb`] per database, just the calls Shopcore needs — databases,
//! `_all_docs` by keys, `_bulk_docs`, `_local` documents, Mango `_index` and `_find`, and
//! `_changes` (a page, or a long poll that waits for the next change).
//!
//! Credentials in the URL (`http://user:password@host:5984`) are sent as basic auth and never
//! logged. Errors say what failed and the HTTP status, never a document.

use std::collections::HashMap;
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// Why a CouchDB call failed.
#[derive(Debug, thiserror::Error)]
pub enum CouchError {
    /// No answer (refused, reset, timed out): worth retrying.
    #[error("couchdb {what}: no answer ({reason})")]
    Unreachable { what: &'static str, reason: String },
    /// An HTTP error status.
    #[error("couchdb {what}: HTTP {status} {error}")]
    Status {
        what: &'static str,
        status: u16,
        error: String,
    },
    /// An answer that is not what the API documents.
    #[error("couchdb {what}: unexpected answer ({reason})")]
    Garbled { what: &'static str, reason: String },
}

impl CouchError {
    /// True when the same request can never succeed: the server refused the request itself
    /// (400 bad request, 403 a validation function said no, 413 too large, 415). Server errors,
    /// conflicts, a missing database and silence may pass.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Status { status, .. } if matches!(status, 400 | 403 | 413 | 415))
    }
}

/// One document's outcome in a `_bulk_docs` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct BulkResult {
    pub id: String,
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One database of a CouchDB server.
#[derive(Clone)]
pub struct CouchDb {
    http: reqwest::Client,
    /// `http://host:port/db`, without credentials.
    base: String,
    credentials: Option<(String, String)>,
    name: String,
}

impl std::fmt::Debug for CouchDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CouchDb").field("base", &self.base).finish()
    }
}

impl CouchDb {
    /// The database `name` on the server at `url`. Nothing is sent yet.
    pub fn new(url: &str, name: &str) -> Result<Self, CouchError> {
        let mut parsed = reqwest::Url::parse(url).map_err(|e| CouchError::Garbled {
            what: "url",
            reason: e.to_string(),
        })?;
        let credentials = (!parsed.username().is_empty()).then(|| {
            (
                percent_decode(parsed.username()),
                percent_decode(parsed.password().unwrap_or_default()),
            )
        });
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CouchError::Garbled {
                what: "client",
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: format!("{}/{name}", parsed.as_str().trim_end_matches('/')),
            credentials,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn call(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CouchError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| CouchError::Unreachable {
            what,
            reason: without_url(&e),
        })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| CouchError::Garbled {
            what,
            reason: without_url(&e),
        })?;
        Ok((status, body))
    }

    async fn ok(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CouchError> {
        let (status, body) = self.call(what, method, path, body).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(status_error(what, status, &body))
        }
    }

    /// Creates the database unless it exists.
    pub async fn ensure_database(&self) -> Result<(), CouchError> {
        let (status, body) = self.call("create database", Method::PUT, "", None).await?;
        if status.is_success() || status == StatusCode::PRECONDITION_FAILED {
            Ok(())
        } else {
            Err(status_error("create database", status, &body))
        }
    }

    /// Deletes the database (a missing one is fine).
    pub async fn delete_database(&self) -> Result<(), CouchError> {
        let (status, body) = self
            .call("delete database", Method::DELETE, "", None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status_error("delete database", status, &body))
        }
    }

    /// The documents with these ids that exist, by id (with their `_rev`).
    pub async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Value>, CouchError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let body = self
            .ok(
                "read documents",
                Method::POST,
                "/_all_docs?include_docs=true",
                Some(&json!({ "keys": ids })),
            )
            .await?;
        let rows = body["rows"].as_array().ok_or(CouchError::Garbled {
            what: "read documents",
            reason: "no rows".into(),
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let doc = row.get("doc").filter(|doc| doc.is_object())?;
                Some((row["id"].as_str()?.to_owned(), doc.clone()))
            })
            .collect())
    }

    /// One document, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Value>, CouchError> {
        let (status, body) = self
            .call(
                "read document",
                Method::GET,
                &format!("/{}", encode(id)),
                None,
            )
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => Ok(Some(body)),
            status => Err(status_error("read document", status, &body)),
        }
    }

    /// Writes documents in one request; each may succeed or fail (a conflict) on its own.
    pub async fn bulk_docs(&self, docs: &[Value]) -> Result<Vec<BulkResult>, CouchError> {
        let body = self
            .ok(
                "write documents",
                Method::POST,
                "/_bulk_docs",
                Some(&json!({ "docs": docs })),
            )
            .await?;
        serde_json::from_value(body).map_err(|e| CouchError::Garbled {
            what: "write documents",
            reason: e.to_string(),
        })
    }

    /// A `_local` document (never replicated, not in `_changes`): checkpoints live there.
    pub async fn get_local(&self, id: &str) -> Result<Option<Value>, CouchError> {
        self.get(&format!("_local/{id}")).await
    }

    /// Writes a `_local` document, replacing whatever is there.
    pub async fn put_local(&self, id: &str, mut doc: Value) -> Result<(), CouchError> {
        let path = format!("/_local/{}", encode(id));
        if let Some(current) = self.get(&format!("_local/{id}")).await? {
            doc["_rev"] = current["_rev"].clone();
        }
        self.ok("write local document", Method::PUT, &path, Some(&doc))
            .await
            .map(drop)
    }

    /// Creates a Mango index (a no-op when it exists).
    pub async fn ensure_index(
        &self,
        ddoc: &str,
        name: &str,
        fields: &[&str],
    ) -> Result<(), CouchError> {
        self.ok(
            "create index",
            Method::POST,
            "/_index",
            Some(&json!({ "index": { "fields": fields }, "ddoc": ddoc, "name": name })),
        )
        .await
        .map(drop)
    }

    /// A Mango query: the documents of `query` (`selector`, `limit`, `sort`, `bookmark`…).
    pub async fn find(&self, query: &Value) -> Result<Vec<Value>, CouchError> {
        let body = self
            .ok("find documents", Method::POST, "/_find", Some(query))
            .await?;
        Ok(body["docs"].as_array().cloned().unwrap_or_default())
    }

    /// Changes after `since`, with their documents, in one long poll: the answer comes as soon
    /// as there is at least one change, or after about `wait` with none (`rows` empty,
    /// `last_seq` = `since`). At most `limit` rows. `since` is the opaque sequence CouchDB gave
    /// (a string in CouchDB 2+, a number in pouchdb-server), or `0`.
    ///
    /// CouchDB ends an idle long poll after `timeout`; pouchdb-server ignores `timeout` and
    /// holds the answer open (sending blank heartbeat lines) until the next change, so an
    /// answer whose body has not ended `wait` + 250 ms after its headers came is an idle poll
    /// too (for CouchDB, abandoning a poll a little early is harmless).
    pub async fn changes_feed(
        &self,
        since: &Value,
        limit: u32,
        wait: Duration,
    ) -> Result<ChangesPage, CouchError> {
        let what = "follow changes";
        let since_text = match since {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let url = format!(
            "{}/_changes?feed=longpoll&include_docs=true&limit={limit}&timeout={}&since={}",
            self.base,
            wait.as_millis(),
            encode(&since_text)
        );
        let mut request = self.http.get(url).timeout(wait + Duration::from_secs(30));
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| CouchError::Unreachable {
            what,
            reason: without_url(&e),
        })?;
        let status = response.status();
        let bytes =
            match tokio::time::timeout(wait + Duration::from_millis(250), response.bytes()).await {
                Err(_) => {
                    return Ok(ChangesPage {
                        rows: Vec::new(),
                        last_seq: since.clone(),
                        pending: None,
                    })
                }
                Ok(Err(e)) => {
                    return Err(CouchError::Unreachable {
                        what,
                        reason: without_url(&e),
                    })
                }
                Ok(Ok(bytes)) => bytes,
            };
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| CouchError::Garbled {
            what,
            reason: format!("body is not JSON ({e})"),
        })?;
        if !status.is_success() {
            return Err(status_error(what, status, &body));
        }
        let results = body["results"].as_array().ok_or(CouchError::Garbled {
            what,
            reason: "no results".into(),
        })?;
        Ok(ChangesPage {
            rows: results.iter().map(ChangeRow::of).collect(),
            last_seq: body["last_seq"].clone(),
            pending: body["pending"].as_u64(),
        })
    }

    /// The database's current update sequence (`update_seq` of `GET /db`).
    pub async fn update_seq(&self) -> Result<Value, CouchError> {
        let body = self
            .ok("read database information", Method::GET, "", None)
            .await?;
        Ok(body["update_seq"].clone())
    }

    /// Writes a `_local` document if its current revision is `rev` (`None`: it must not
    /// exist), and returns the new revision. A database deleted and created again since the
    /// document was read answers 409 or 404: the caller reads it again.
    pub async fn put_local_if(
        &self,
        id: &str,
        mut doc: Value,
        rev: Option<&str>,
    ) -> Result<String, CouchError> {
        let what = "write local document";
        if let (Some(rev), Some(object)) = (rev, doc.as_object_mut()) {
            object.insert("_rev".into(), Value::String(rev.to_owned()));
        }
        let path = format!("/_local/{}", encode(id));
        let body = self.ok(what, Method::PUT, &path, Some(&doc)).await?;
        Ok(body["rev"].as_str().unwrap_or_default().to_owned())
    }

    /// Changes after `since`, with their documents: `(results, last_seq)`.
    pub async fn changes(
        &self,
        since: &Value,
        limit: u32,
    ) -> Result<(Vec<Value>, Value), CouchError> {
        let since = match since {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let body = self
            .ok(
                "read changes",
                Method::GET,
                &format!(
                    "/_changes?include_docs=true&limit={limit}&since={}",
                    encode(&since)
                ),
                None,
            )
            .await?;
        let results = body["results"].as_array().cloned().unwrap_or_default();
        Ok((results, body["last_seq"].clone()))
    }
}

/// One answer of [`CouchDb::changes_feed`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub rows: Vec<ChangeRow>,
    /// Where to go on from after these rows.
    pub last_seq: Value,
    /// Changes after these rows, when the server says (CouchDB 2+ does).
    pub pending: Option<u64>,
}

/// One row of `_changes`, read leniently: whatever the server sent, nothing here panics.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    /// The row's sequence: `since` for a follower that has handled this row.
    pub seq: Value,
    /// The document id, when the row has a string one.
    pub id: Option<String>,
    /// The winning revision.
    pub rev: Option<String>,
    /// The document was deleted (its `doc` is only a stub).
    pub deleted: bool,
    /// The document (`include_docs=true`); anything at all from another writer.
    pub doc: Option<Value>,
}

impl ChangeRow {
    fn of(row: &Value) -> Self {
        Self {
            seq: row["seq"].clone(),
            id: row["id"].as_str().map(str::to_owned),
            rev: row["changes"][0]["rev"]
                .as_str()
                .or_else(|| row["doc"]["_rev"].as_str())
                .map(str::to_owned),
            deleted: row["deleted"].as_bool() == Some(true),
            doc: row.get("doc").filter(|doc| !doc.is_null()).cloned(),
        }
    }
}

fn status_error(what: &'static str, status: StatusCode, body: &Value) -> CouchError {
    // CouchDB's `error` is a short code ("conflict", "forbidden"); its `reason` may quote the
    // request, so only the code is kept.
    let error = body["error"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(64)
        .collect();
    CouchError::Status {
        what,
        status: status.as_u16(),
        error,
    }
}

/// What went wrong with a reqwest call, without the URL it names.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_decode() {
        "body is not JSON"
    } else if error.is_body() {
        "body could not be read"
    } else {
        "request failed"
    };
    kind.to_owned()
}

/// Characters escaped in a path segment or query value: all but unreserved ones (RFC 3986)
/// and '/', which `_local/…` and `_design/…` ids keep.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

fn percent_decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}
