//! An HTTP double of the Confluent Schema Registry subset Shopcore uses.
//!
//! No schema registry can be installed on the build machines, so tests (and `infra/run`) use
//! this. Production points `SCHEMA_REGISTRY_URL` at Confluent Schema Registry, Apicurio (in its
//! Confluent-compatible mode) or Karapace. What it implements, with the registry's semantics:
//!
//! - `POST /subjects/{subject}/versions`: register a schema. The same schema under the same
//!   subject returns the existing id; a schema already known under any subject gets that id; a
//!   new version must be BACKWARD compatible with the subject's latest (else 409, error 409).
//! - `GET /schemas/ids/{id}`: a schema by id (error 40403 when unknown).
//! - `GET /subjects/{subject}/versions/latest` and `/versions/{n}`: a subject version (error
//!   40401 when the subject is unknown, 40402 for an unknown version).
//! - `GET /subjects` and `GET /subjects/{subject}/versions`: listings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use apache_avro::Schema;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Default)]
struct Registry {
    /// Schema text by id (ids start at 1).
    schemas: Vec<String>,
    /// Schema ids of each subject's versions (version = index + 1).
    subjects: BTreeMap<String, Vec<u32>>,
}

/// A running registry double.
#[derive(Clone)]
pub struct RegistryDouble {
    addr: SocketAddr,
    state: Arc<Mutex<Registry>>,
}

impl RegistryDouble {
    /// Serves on `addr` (port 0 picks a free port) until the runtime stops.
    pub async fn spawn(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(Registry::default()));
        let app = router(state.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "schema registry double stopped");
            }
        });
        Ok(Self { addr, state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Schema ids of a subject's versions, oldest first.
    pub fn versions(&self, subject: &str) -> Vec<u32> {
        let registry = self.state.lock().expect("registry lock");
        registry.subjects.get(subject).cloned().unwrap_or_default()
    }
}

fn router(state: Arc<Mutex<Registry>>) -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route(
            "/subjects/{subject}/versions",
            post(register).get(list_versions),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subject_version),
        )
        .route("/schemas/ids/{id}", get(schema_by_id))
        .with_state(state)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    reply(status, json!({ "error_code": code, "message": message }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Value>,
}

async fn register(
    State(state): State<Arc<Mutex<Registry>>>,
    Path(subject): Path<String>,
    body: Option<Json<RegisterBody>>,
) -> Response {
    let mut registry = state.lock().expect("registry lock");
    let Some(Json(body)) = body else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Invalid schema");
    };
    if body.schema_type.as_deref().is_some_and(|t| t != "AVRO") || !body.references.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            "the double only supports AVRO schemas without references",
        );
    }
    let schema = match Schema::parse_str(&body.schema) {
        Ok(schema) => schema,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                42201,
                &format!("Invalid schema: {e}"),
            )
        }
    };
    let canonical = schema.canonical_form();
    let same =
        |text: &String| Schema::parse_str(text).is_ok_and(|s| s.canonical_form() == canonical);
    let versions = registry.subjects.get(&subject).cloned().unwrap_or_default();
    if let Some(id) = versions
        .iter()
        .find(|id| same(&registry.schemas[**id as usize - 1]))
    {
        return reply(StatusCode::OK, json!({ "id": id }));
    }
    if let Some(latest) = versions.last() {
        let previous = Schema::parse_str(&registry.schemas[*latest as usize - 1])
            .expect("stored schemas parse");
        if let Err(reason) = crate::compat::backward_compatible(&previous, &schema) {
            return error(
                StatusCode::CONFLICT,
                409,
                &format!("Schema being registered is incompatible with an earlier schema for subject \"{subject}\": {reason}"),
            );
        }
    }
    let id = match registry.schemas.iter().position(same) {
        Some(index) => index as u32 + 1,
        None => {
            registry.schemas.push(body.schema);
            registry.schemas.len() as u32
        }
    };
    registry.subjects.entry(subject).or_default().push(id);
    reply(StatusCode::OK, json!({ "id": id }))
}

async fn schema_by_id(State(state): State<Arc<Mutex<Registry>>>, Path(id): Path<u32>) -> Response {
    let registry = state.lock().expect("registry lock");
    match id
        .checked_sub(1)
        .and_then(|index| registry.schemas.get(index as usize))
    {
        Some(schema) => reply(StatusCode::OK, json!({ "schema": schema })),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn subject_version(
    State(state): State<Arc<Mutex<Registry>>>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let registry = state.lock().expect("registry lock");
    let Some(versions) = registry.subjects.get(&subject) else {
        return error(StatusCode::NOT_FOUND, 40401, "Subject not found");
    };
    let number = if version == "latest" {
        versions.len()
    } else {
        match version.parse::<usize>() {
            Ok(n) if (1..=versions.len()).contains(&n) => n,
            _ => return error(StatusCode::NOT_FOUND, 40402, "Version not found"),
        }
    };
    let id = versions[number - 1];
    reply(
        StatusCode::OK,
        json!({
            "subject": subject,
            "version": number,
            "id": id,
            "schema": registry.schemas[id as usize - 1],
        }),
    )
}

async fn list_subjects(State(state): State<Arc<Mutex<Registry>>>) -> Response {
    let registry = state.lock().expect("registry lock");
    let subjects: Vec<&String> = registry.subjects.keys().collect();
    reply(StatusCode::OK, json!(subjects))
}

async fn list_versions(
    State(state): State<Arc<Mutex<Registry>>>,
    Path(subject): Path<String>,
) -> Response {
    let registry = state.lock().expect("registry lock");
    match registry.subjects.get(&subject) {
        Some(versions) => reply(
            StatusCode::OK,
            json!((1..=versions.len()).collect::<Vec<_>>()),
        ),
        None => error(StatusCode::NOT_FOUND, 40401, "Subject not found"),
    }
}
