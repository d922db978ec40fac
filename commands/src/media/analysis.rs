//! What an uploaded object really is, from its bytes alone: pure and synchronous (run it on a
//! blocking thread). The declared media type is never trusted; the checksum is compared with
//! the upload's; the image header is read, and its size refused, before anything is decoded,
//! so a decompression bomb costs nothing; the thumbnail is made from the decoded image.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::Digest as _;
use shopcore_domain::catalog::media::{
    MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_MEDIA_BYTES, THUMBNAIL_SIDE,
};

/// An accepted object: what the media record gets, and the thumbnail to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub content_type: &'static str,
    pub size_bytes: u64,
    pub checksum_sha256: String,
    pub width: u32,
    pub height: u32,
    pub thumbnail: Thumbnail,
}

/// An encoded thumbnail: JPEG, or PNG when the image has transparency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Why an object is refused; the text is recorded on the media for people to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the upload is empty")]
    Empty,
    #[error("the upload is {0} bytes, more than {MAX_MEDIA_BYTES}")]
    TooLarge(u64),
    #[error(
        "the stored object is not the upload: its SHA-256 is {found}, the upload's {expected}"
    )]
    ChecksumMismatch { expected: String, found: String },
    #[error("the bytes are not a JPEG, PNG, WebP or GIF image{0}")]
    NotAnImage(String),
    #[error("the image is {width}×{height} pixels, more than {MAX_IMAGE_SIDE} a side or {MAX_IMAGE_PIXELS} in all")]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn content_type(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Png => Some("image/png"),
        ImageFormat::WebP => Some("image/webp"),
        ImageFormat::Gif => Some("image/gif"),
        _ => None,
    }
}

/// A short description of what non-image bytes look like, for the rejection.
fn looks_like(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    if lower.contains("<svg") {
        ": it is SVG, which may carry scripts".to_owned()
    } else if lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<script") {
        ": it is HTML".to_owned()
    } else if head.starts_with(b"%PDF") {
        ": it is a PDF".to_owned()
    } else if std::str::from_utf8(head).is_ok() {
        ": it is text".to_owned()
    } else {
        String::new()
    }
}

fn cut(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Checks `bytes` (the upload's `expected_sha256`, when it gave one) and makes the thumbnail.
pub fn analyse(bytes: &[u8], expected_sha256: Option<&str>) -> Result<Analysis, Rejection> {
    if bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    let size = bytes.len() as u64;
    if size > MAX_MEDIA_BYTES {
        return Err(Rejection::TooLarge(size));
    }
    let found = sha256_hex(bytes);
    if let Some(expected) = expected_sha256 {
        if expected != found {
            return Err(Rejection::ChecksumMismatch {
                expected: expected.to_owned(),
                found,
            });
        }
    }
    let format =
        image::guess_format(bytes).map_err(|_| Rejection::NotAnImage(looks_like(bytes)))?;
    let content_type =
        content_type(format).ok_or_else(|| Rejection::NotAnImage(format!(": it is {format:?}")))?;
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        // Sides are checked below from the header, to say what was too large; the allocation
        // limit stops a decoder that would still reach for more.
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4 + 64 * 1024 * 1024);
        reader.limits(limits);
        reader
    };
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| Rejection::Undecodable(cut(&e.to_string())))?;
    if width == 0
        || height == 0
        || width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(Rejection::TooManyPixels { width, height });
    }
    let image = reader()
        .decode()
        .map_err(|e| Rejection::Undecodable(cut(&e.to_string())))?;
    let thumbnail = thumbnail(&image)?;
    Ok(Analysis {
        content_type,
        size_bytes: size,
        checksum_sha256: found,
        width,
        height,
        thumbnail,
    })
}

/// At most [`THUMBNAIL_SIDE`] a side, the aspect ratio kept; never larger than the image.
fn thumbnail(image: &DynamicImage) -> Result<Thumbnail, Rejection> {
    let small = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image.clone()
    };
    let (small, format, extension) = if small.color().has_alpha() {
        (
            DynamicImage::ImageRgba8(small.to_rgba8()),
            ImageFormat::Png,
            "png",
        )
    } else {
        (
            DynamicImage::ImageRgb8(small.to_rgb8()),
            ImageFormat::Jpeg,
            "jpg",
        )
    };
    let mut bytes = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut bytes), format)
        .map_err(|e| Rejection::Undecodable(cut(&e.to_string())))?;
    Ok(Thumbnail {
        bytes,
        extension,
        width: small.width(),
        height: small.height(),
    })
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;

    pub(crate) fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let image = if alpha {
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(
                width,
                height,
                Rgba([9, 99, 199, 128]),
            ))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
                Rgb([(x % 256) as u8, (y % 256) as u8, 77])
            }))
        };
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .expect("encode");
        bytes
    }

    #[test]
    fn an_image_is_measured_and_gets_a_thumbnail_that_keeps_its_shape() {
        let bytes = png(1024, 512, false);
        let analysis = analyse(&bytes, Some(&sha256_hex(&bytes))).expect("accepted");
        assert_eq!(analysis.content_type, "image/png");
        assert_eq!((analysis.width, analysis.height), (1024, 512));
        assert_eq!(analysis.size_bytes, bytes.len() as u64);
        let thumb = &analysis.thumbnail;
        assert_eq!(
            (thumb.width, thumb.height, thumb.extension),
            (256, 128, "jpg")
        );
        assert_eq!(
            image::guess_format(&thumb.bytes).ok(),
            Some(ImageFormat::Jpeg)
        );
        // Transparency survives as PNG; a small image is not enlarged.
        let small = analyse(&png(40, 30, true), None).expect("accepted");
        assert_eq!(small.thumbnail.extension, "png");
        assert_eq!((small.thumbnail.width, small.thumbnail.height), (40, 30));
    }

    #[test]
    fn the_declared_type_is_not_trusted_and_other_bytes_are_refused() {
        for (bytes, says) in [
            (b"<html><script>alert(1)</script></html>".to_vec(), "HTML"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(), "SVG"),
            (b"%PDF-1.7 ...".to_vec(), "PDF"),
            (b"just some words".to_vec(), "text"),
            (vec![0u8, 159, 146, 150, 1, 2, 3], ""),
        ] {
            let rejection = analyse(&bytes, None).expect_err("not an image");
            assert!(matches!(rejection, Rejection::NotAnImage(_)), "{rejection}");
            assert!(rejection.to_string().contains(says), "{rejection}");
        }
        assert_eq!(analyse(b"", None), Err(Rejection::Empty));
    }

    #[test]
    fn a_truncated_image_and_an_altered_object_are_refused() {
        let bytes = png(300, 300, false);
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(
            analyse(truncated, None),
            Err(Rejection::Undecodable(_))
        ));
        let rejection = analyse(&bytes, Some(&"0".repeat(64))).expect_err("mismatch");
        assert!(matches!(rejection, Rejection::ChecksumMismatch { .. }));
    }

    /// A PNG whose header claims `width` × `height` pixels (CRC correct), with no pixel data.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1, false);
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // Refused from the header alone, before any of it is decoded (there is nothing to
        // decode: a decoder that tried would fail with another error).
        for (width, height) in [
            (20_000, 20_000),
            (MAX_IMAGE_SIDE + 1, 1),
            (
                MAX_IMAGE_SIDE,
                (MAX_IMAGE_PIXELS / u64::from(MAX_IMAGE_SIDE)) as u32 + 1,
            ),
        ] {
            assert_eq!(
                analyse(&png_header(width, height), None),
                Err(Rejection::TooManyPixels { width, height })
            );
        }
        // Within the limits the same trick is merely undecodable.
        assert!(matches!(
            analyse(&png_header(100, 100), None),
            Err(Rejection::Undecodable(_))
        ));
    }
}
