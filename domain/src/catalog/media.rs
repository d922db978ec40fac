//! A product's media: the reference an upload attaches ([`MediaRef`]), what processing found
//! ([`MediaFacts`]), and the state the two make ([`Media`], [`MediaStatus`]).
//!
//! An upload is stored first and attached second, as `pending`; a worker then reads the stored
//! bytes, checks what they really are, and marks the media `processed` (with size, checksum,
//! dimensions and a thumbnail) or `rejected` (with a reason). The limits below are the one
//! source for the gateway's checks, the worker's and the OpenAPI document.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::ProductError;

/// The largest upload, in bytes (10 MiB).
pub const MAX_MEDIA_BYTES: u64 = 10 * 1024 * 1024;
/// Media types an upload may declare, and that its bytes must turn out to be.
pub const ACCEPTED_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];
/// The longest side of an image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 10_000;
/// The most pixels an image may have (a decompression bomb is refused before it is decoded).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// The most characters of an alternative text.
pub const MAX_ALT_TEXT_CHARS: usize = 500;
/// The most characters of a rejection reason (longer ones are cut).
pub const MAX_REASON_CHARS: usize = 500;

/// A reference to a stored media object, as an upload attaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaRef {
    pub media_id: Uuid,
    /// Where the object is: its key in the media store (see [`object_key`]).
    pub uri: String,
    /// The media type the upload declared.
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    /// SHA-256 of the uploaded bytes (lower-case hex), as the upload computed it; processing
    /// checks the stored object against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
}

/// Where a media object is in its processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MediaStatus {
    /// Stored and attached; not yet checked.
    #[default]
    Pending,
    /// Checked: it is what it claims; size, checksum, dimensions and a thumbnail are known.
    Processed,
    /// Checked and refused (not an accepted image, corrupt, too large, altered); its object is
    /// deleted.
    Rejected,
}

/// What processing found out about a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFacts {
    /// The media type its bytes show (which may differ from the declared one).
    pub content_type: String,
    pub size_bytes: u64,
    pub checksum_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The thumbnail's key in the media store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_uri: Option<String>,
}

/// A media object of a product, as the aggregate and the read model hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub media_id: Uuid,
    pub uri: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    #[serde(default)]
    pub status: MediaStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
}

impl From<MediaRef> for Media {
    fn from(media: MediaRef) -> Self {
        Self {
            media_id: media.media_id,
            uri: media.uri,
            content_type: media.content_type,
            alt_text: media.alt_text,
            status: MediaStatus::Pending,
            checksum_sha256: media.checksum_sha256,
            size_bytes: None,
            width: None,
            height: None,
            thumbnail_uri: None,
            rejection_reason: None,
        }
    }
}

impl Media {
    /// Records what processing found.
    pub(crate) fn processed(&mut self, facts: MediaFacts) {
        self.status = MediaStatus::Processed;
        self.content_type = facts.content_type;
        self.size_bytes = Some(facts.size_bytes);
        self.checksum_sha256 = Some(facts.checksum_sha256);
        self.width = facts.width;
        self.height = facts.height;
        self.thumbnail_uri = facts.thumbnail_uri;
    }

    pub(crate) fn rejected(&mut self, reason: String) {
        self.status = MediaStatus::Rejected;
        self.rejection_reason = Some(reason);
    }
}

/// The file extension of an accepted media type.
pub fn extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        "image/gif" => Some("gif"),
        _ => None,
    }
}

/// The accepted media type of a file extension (what the media route serves a key as).
pub fn content_type_of(extension: &str) -> Option<&'static str> {
    ACCEPTED_MEDIA_TYPES
        .iter()
        .copied()
        .find(|t| self::extension(t) == Some(extension))
}

/// The media store key of an upload: per product and content, so a retried upload lands on
/// the same object and two products never share one.
pub fn object_key(product_id: Uuid, checksum_sha256: &str, content_type: &str) -> String {
    let extension = extension(content_type).unwrap_or("bin");
    format!("products/{product_id}/{checksum_sha256}.{extension}")
}

/// The key of an object's thumbnail.
pub fn thumbnail_key(product_id: Uuid, checksum_sha256: &str, extension: &str) -> String {
    format!("products/{product_id}/{checksum_sha256}-thumb.{extension}")
}

/// A media type as accepted for uploads: lower-cased, parameters dropped, one of
/// [`ACCEPTED_MEDIA_TYPES`].
pub fn accepted_type(raw: &str) -> Option<&'static str> {
    let essence = raw.split(';').next().unwrap_or_default().trim();
    ACCEPTED_MEDIA_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(essence))
}

/// True for 64 lower-case hexadecimal digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn key(text: &str, field: &'static str) -> Result<String, ProductError> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > super::values::MAX_URI_CHARS
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ProductError::invalid(
            field,
            "must be a non-empty URI without spaces, at most 2048 characters",
        ));
    }
    Ok(text.to_owned())
}

impl MediaRef {
    pub(crate) fn validated(self) -> Result<Self, ProductError> {
        let uri = key(&self.uri, "media.uri")?;
        let content_type = accepted_type(&self.content_type).ok_or_else(|| {
            ProductError::invalid(
                "media.contentType",
                format!("must be one of {}", ACCEPTED_MEDIA_TYPES.join(", ")),
            )
        })?;
        let alt_text = self
            .alt_text
            .map(|alt| {
                super::values::bounded_text(&alt, "media.altText", MAX_ALT_TEXT_CHARS, false)
            })
            .transpose()?
            .filter(|alt| !alt.is_empty());
        let checksum_sha256 = self
            .checksum_sha256
            .map(|sum| sum.trim().to_ascii_lowercase())
            .map(|sum| {
                if is_sha256_hex(&sum) {
                    Ok(sum)
                } else {
                    Err(ProductError::invalid(
                        "media.checksumSha256",
                        "must be 64 hexadecimal digits",
                    ))
                }
            })
            .transpose()?;
        Ok(Self {
            media_id: self.media_id,
            uri,
            content_type: content_type.to_owned(),
            alt_text,
            checksum_sha256,
        })
    }
}

impl MediaFacts {
    pub(crate) fn validated(self) -> Result<Self, ProductError> {
        let content_type = accepted_type(&self.content_type)
            .ok_or_else(|| {
                ProductError::invalid("facts.contentType", "must be an accepted media type")
            })?
            .to_owned();
        let checksum_sha256 = self.checksum_sha256.to_ascii_lowercase();
        if !is_sha256_hex(&checksum_sha256) {
            return Err(ProductError::invalid(
                "facts.checksumSha256",
                "must be 64 hexadecimal digits",
            ));
        }
        if self.size_bytes == 0 || self.size_bytes > MAX_MEDIA_BYTES {
            return Err(ProductError::invalid(
                "facts.sizeBytes",
                format!("must be 1 to {MAX_MEDIA_BYTES} bytes"),
            ));
        }
        for (side, field) in [(self.width, "facts.width"), (self.height, "facts.height")] {
            if side.is_some_and(|side| side == 0 || side > MAX_IMAGE_SIDE) {
                return Err(ProductError::invalid(
                    field,
                    format!("must be 1 to {MAX_IMAGE_SIDE} pixels"),
                ));
            }
        }
        let thumbnail_uri = self
            .thumbnail_uri
            .map(|uri| key(&uri, "facts.thumbnailUri"))
            .transpose()?;
        Ok(Self {
            content_type,
            size_bytes: self.size_bytes,
            checksum_sha256,
            width: self.width,
            height: self.height,
            thumbnail_uri,
        })
    }
}

/// A rejection reason: trimmed, one line, at most [`MAX_REASON_CHARS`] characters (cut, never
/// refused: the worker's reason must always be recordable).
pub(crate) fn reason(raw: &str) -> String {
    let line: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON_CHARS)
        .collect();
    if line.is_empty() {
        "rejected".to_owned()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_product_and_content_with_the_type_s_extension() {
        let product = Uuid::from_u128(7);
        let sum = "ab".repeat(32);
        assert_eq!(
            object_key(product, &sum, "image/png"),
            format!("products/{product}/{sum}.png")
        );
        assert_eq!(content_type_of("webp"), Some("image/webp"));
        assert_eq!(content_type_of("html"), None);
        assert_eq!(accepted_type("IMAGE/JPEG; q=1"), Some("image/jpeg"));
        assert_eq!(accepted_type("image/svg+xml"), None);
        assert_eq!(accepted_type("text/html"), None);
    }

    #[test]
    fn checksums_are_64_lower_hex_digits() {
        assert!(is_sha256_hex(&"0f".repeat(32)));
        assert!(!is_sha256_hex(&"0F".repeat(32)));
        assert!(!is_sha256_hex(&"0f".repeat(31)));
        assert!(!is_sha256_hex(&"zz".repeat(32)));
    }

    #[test]
    fn reasons_are_one_bounded_line_and_never_empty() {
        assert_eq!(reason(" bad\nimage "), "bad image");
        assert_eq!(reason(""), "rejected");
        assert_eq!(reason(&"x".repeat(2_000)).chars().count(), MAX_REASON_CHARS);
    }
}
