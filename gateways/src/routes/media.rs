//! Product media over REST: upload (multipart), read one, remove, and `GET /media/{key}`, which
//! serves the stored objects.
//!
//! An upload is checked for what the gateway can know cheaply — a platform token with
//! `manage_products`, one `file` part of an accepted image type, at most 10 MiB — then stored
//! in the media store under a key named by the product and the bytes' SHA-256, and attached by
//! the `AttachMedia` command as `pending` (202). The media worker decides the rest from the
//! bytes. Keys name their content, so a retried upload lands on the same object; the gateway
//! writes objects only where none is, and deletes one only when it wrote it and the command
//! then failed.

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use shopcore_auth::scopes::VIEW_PRODUCTS;
use shopcore_auth::Principal;
use shopcore_domain::catalog::media::{
    self, ACCEPTED_MEDIA_TYPES, MAX_ALT_TEXT_CHARS, MAX_MEDIA_BYTES,
};
use shopcore_media_store::{Created, MediaStoreError};
use shopcore_projections::catalog::read_model::{MediaView, ProductView};
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::ErrorCode;
use uuid::Uuid;

use super::catalog::product_at_position;
use super::catalog_writes::CatalogWriter;
use super::customers::command_options;
use super::AppState;
use crate::problem::{ApiPath, Problem};

/// The body limit of the upload route: the largest file and room for the form around it.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_MEDIA_BYTES as usize + 64 * 1024;

/// The multipart form of an upload (for the OpenAPI document).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MediaUpload {
    /// The image: its part's `Content-Type` must be one of image/jpeg, image/png, image/webp,
    /// image/gif; at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Alternative text (at most 500 characters).
    #[schema(rename = "altText")]
    alt_text: Option<String>,
}

fn unsupported(detail: impl Into<String>) -> Problem {
    Problem {
        problem_type: "https://shopcore.dev/problems/unsupported-media-type",
        title: "Unsupported media type",
        status: 415,
        field: Some("file".to_owned()),
        ..Problem::new(ErrorCode::InvalidArgument, detail)
    }
}

fn too_large() -> Problem {
    Problem {
        detail: format!("file: an upload is at most {MAX_MEDIA_BYTES} bytes"),
        field: Some("file".to_owned()),
        ..Problem::too_large()
    }
}

fn form_error(error: MultipartError) -> Problem {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        Problem::invalid("body", "must be a well-formed multipart/form-data body")
    }
}

fn store_unavailable(error: &MediaStoreError) -> Problem {
    tracing::warn!(%error, "media store unavailable");
    let mut problem = Problem::new(
        ErrorCode::Unavailable,
        "the media store is unavailable; retry shortly",
    );
    problem.retry_after_seconds = Some(1);
    problem
}

/// The parts of an upload form, checked.
struct Upload {
    bytes: Bytes,
    content_type: &'static str,
    alt_text: Option<String>,
}

async fn read_form(mut form: Multipart) -> Result<Upload, Problem> {
    let mut file: Option<(Bytes, &'static str)> = None;
    let mut alt_text = None;
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("file") => {
                if file.is_some() {
                    return Err(Problem::invalid("file", "send exactly one file part"));
                }
                let declared = field.content_type().unwrap_or_default().to_owned();
                let content_type = media::accepted_type(&declared).ok_or_else(|| {
                    unsupported(format!(
                        "file: the part's Content-Type must be one of {}",
                        ACCEPTED_MEDIA_TYPES.join(", ")
                    ))
                })?;
                let bytes = field.bytes().await.map_err(form_error)?;
                if bytes.len() as u64 > MAX_MEDIA_BYTES {
                    return Err(too_large());
                }
                file = Some((bytes, content_type));
            }
            Some("altText") => {
                let text = field.text().await.map_err(form_error)?;
                if text.chars().count() > MAX_ALT_TEXT_CHARS {
                    return Err(Problem::invalid(
                        "altText",
                        format!("must be at most {MAX_ALT_TEXT_CHARS} characters"),
                    ));
                }
                alt_text = Some(text);
            }
            other => {
                let name: String = other.unwrap_or_default().chars().take(40).collect();
                return Err(Problem::invalid(
                    "body",
                    format!("unknown form part {name:?}; send file and optionally altText"),
                ));
            }
        }
    }
    let (bytes, content_type) =
        file.ok_or_else(|| Problem::invalid("file", "a file part is required"))?;
    if bytes.is_empty() {
        return Err(Problem::invalid("file", "must not be empty"));
    }
    Ok(Upload {
        bytes,
        content_type,
        alt_text,
    })
}

/// Upload an image of a product; it is processed asynchronously.
#[utoipa::path(
    post, path = "/products/{id}/media", tag = "products",
    request_body(content = MediaUpload, content_type = "multipart/form-data"),
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and file answer with the first result; another file is 422"),
    ),
    responses(
        (status = 202, description = "Stored and attached as `pending`; `Location` names the media. The media worker then marks it `processed` (size, checksum, dimensions, thumbnail) or `rejected` (with a reason)", body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same content is already attached (the problem names it), a version conflict, or discontinued", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A file over 10 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a multipart form, or a file part that is not image/jpeg, image/png, image/webp or image/gif", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The media store or the command service is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_media(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, Problem> {
    let form =
        form.map_err(|_| unsupported("body: must be multipart/form-data with a file part"))?;
    let upload = read_form(form).await?;
    let checksum = sha256_hex(&upload.bytes);
    let key = media::object_key(id, &checksum, upload.content_type);
    let created = writer
        .state()
        .media
        .create(&key, upload.bytes)
        .await
        .map_err(|e| store_unavailable(&e))?;
    let request = pb::AttachMediaRequest {
        product_id: id.to_string(),
        media_id: String::new(),
        content_type: upload.content_type.to_owned(),
        checksum_sha256: checksum,
        alt_text: upload.alt_text,
        options: Some(command_options(&headers)?),
    };
    let answer = writer
        .product(StatusCode::ACCEPTED, request, |mut c, r| async move {
            c.attach_media(r).await
        })
        .await;
    if answer.is_err() && created == Created::New {
        // Nothing refers to the object: it was written for this request only.
        if let Err(error) = writer.state().media.delete(&key).await {
            tracing::warn!(%error, key, "an upload's object was not deleted after its command failed");
        }
    }
    answer
}

/// SHA-256 of the upload, lower-case hex: it names the object and travels in the command.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Remove a media from a product (its objects are deleted by the media worker).
#[utoipa::path(
    delete, path = "/products/{id}/media/{mediaId}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("mediaId" = Uuid, Path, description = "Media id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_media(
    writer: CatalogWriter,
    ApiPath((id, media_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let request = pb::RemoveMediaRequest {
        product_id: id.to_string(),
        media_id: media_id.to_string(),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::OK, request, |mut c, r| async move {
            c.remove_media(r).await
        })
        .await
}

/// Read one media of a product: its processing status and URLs.
#[utoipa::path(
    get, path = "/products/{id}/media/{mediaId}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("mediaId" = Uuid, Path, description = "Media id"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the catalog has reached it"),
    ),
    responses(
        (status = 200, body = MediaView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_media(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath((id, media_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .require(VIEW_PRODUCTS)
        .map_err(Problem::forbidden)?;
    let product = product_at_position(&state, &headers, id).await?;
    let media = product
        .media
        .into_iter()
        .find(|m| m.id == media_id)
        .ok_or_else(|| Problem::not_found(format!("no media {media_id} on product {id}")))?;
    Ok(axum::Json(media).into_response())
}

/// The kinds of key `GET /media/…` serves: an upload or its thumbnail, by product and content.
fn servable(key: &str) -> Option<&'static str> {
    let mut parts = key.split('/');
    let (Some("products"), Some(product), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Uuid::parse_str(product).ok()?;
    let (stem, extension) = file.rsplit_once('.')?;
    let checksum = stem.strip_suffix("-thumb").unwrap_or(stem);
    media::is_sha256_hex(checksum).then_some(())?;
    media::content_type_of(extension)
}

/// A stored media object (public: product images are shown to anyone who has the URL; keys
/// are unguessable and name their content, so they are cached for a year).
pub async fn serve_media(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Response, Problem> {
    let content_type = servable(&key).ok_or_else(|| Problem::not_found("no such media"))?;
    let bytes = match state.media.read(&key, MAX_MEDIA_BYTES).await {
        Ok(bytes) => bytes,
        Err(MediaStoreError::NotFound(_)) => return Err(Problem::not_found("no such media")),
        Err(error) => return Err(store_unavailable(&error)),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    // Served as exactly the image type its key says, never sniffed, never a document.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upload_and_thumbnail_keys_are_served() {
        let product = Uuid::now_v7();
        let sum = "0a".repeat(32);
        assert_eq!(
            servable(&format!("products/{product}/{sum}.png")),
            Some("image/png")
        );
        assert_eq!(
            servable(&format!("products/{product}/{sum}-thumb.jpg")),
            Some("image/jpeg")
        );
        for key in [
            format!("products/{product}/{sum}.html"),
            format!("products/{product}/{sum}.svg"),
            format!("products/{product}/../{sum}.png"),
            format!("products/not-a-uuid/{sum}.png"),
            format!("products/{product}/{}.png", "0A".repeat(32)),
            format!("products/{product}/x/{sum}.png"),
            format!("other/{product}/{sum}.png"),
            "products".to_owned(),
            String::new(),
        ] {
            assert_eq!(servable(&key), None, "{key}");
        }
    }
}
