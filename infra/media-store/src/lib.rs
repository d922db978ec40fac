//! The media store: where uploaded product media and their thumbnails live, behind the
//! `object_store` crate so that a local directory (the default) and any S3-compatible store
//! (AWS S3, MinIO, Ceph…) are one configuration apart.
//!
//! `MEDIA_STORE_URL` says which: a directory path or `file:///…` URL, or `s3://bucket/prefix`
//! with the standard `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for MinIO). The gateway writes uploads with
//! [`MediaStore::create`] (never overwriting, so it knows which objects are its own to clean up);
//! the media worker reads them with a size limit, writes thumbnails and deletes what is removed.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

/// Why a media store call failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("no object {0}")]
    NotFound(String),
    #[error("object {key} is {size} bytes, more than {limit}")]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("{0} is not a media key")]
    BadKey(String),
    /// The store did not answer or failed: worth retrying.
    #[error("media store: {0}")]
    Unavailable(String),
    #[error("media store configuration: {0}")]
    Config(String),
}

/// What [`MediaStore::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The object is new: the caller wrote it.
    New,
    /// An object was already there (the same content, since keys name their content).
    Existed,
}

/// A media store, cheap to clone.
#[derive(Clone, Debug)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
}

/// The default location: `$SHOPCORE_HOME/media`, else `~/.local/share/shopcore/media`.
pub fn default_url() -> String {
    let home = std::env::var("SHOPCORE_HOME").unwrap_or_else(|_| {
        let user = std::env::var("HOME").unwrap_or_else(|_| ".".to_owned());
        format!("{user}/.local/share/shopcore")
    });
    format!("{home}/media")
}

/// An object store failure as ours: missing is missing, everything else may pass.
fn failure(key: &str, error: object_store::Error) -> MediaStoreError {
    match error {
        object_store::Error::NotFound { .. } => MediaStoreError::NotFound(key.to_owned()),
        other => MediaStoreError::Unavailable(other.to_string()),
    }
}

impl MediaStore {
    /// The store `url` names (see the crate documentation). A local directory is created.
    pub fn open(url: &str) -> Result<Self, MediaStoreError> {
        let url = url.trim();
        let config = |e: &dyn std::fmt::Display| MediaStoreError::Config(e.to_string());
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(MediaStoreError::Config("s3:// needs a bucket".into()));
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| config(&e))?;
            let prefix = prefix.trim_matches('/');
            let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            };
            return Ok(Self { inner });
        }
        let dir = match url.strip_prefix("file://") {
            Some(_) => url::Url::parse(url)
                .map_err(|e| config(&e))?
                .to_file_path()
                .map_err(|()| MediaStoreError::Config(format!("{url} is not a local path")))?,
            None if url.contains("://") => {
                return Err(MediaStoreError::Config(format!(
                    "{url}: only a directory, file:// or s3:// URLs are supported"
                )))
            }
            None => std::path::PathBuf::from(url),
        };
        std::fs::create_dir_all(&dir).map_err(|e| config(&e))?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| config(&e))?
            .with_automatic_cleanup(true);
        Ok(Self {
            inner: Arc::new(local),
        })
    }

    /// A store over any `object_store` implementation (tests use a failing one).
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner }
    }

    fn path(key: &str) -> Result<Path, MediaStoreError> {
        Path::parse(key)
            .ok()
            .filter(|p| p.as_ref() == key && !key.is_empty())
            .ok_or_else(|| MediaStoreError::BadKey(key.chars().take(80).collect()))
    }

    /// Writes `bytes` under `key` unless an object is there already.
    pub async fn create(&self, key: &str, bytes: Bytes) -> Result<Created, MediaStoreError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .inner
            .put_opts(&Self::path(key)?, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Existed),
            Err(error) => Err(failure(key, error)),
        }
    }

    /// Writes `bytes` under `key`, replacing what is there.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), MediaStoreError> {
        self.inner
            .put(&Self::path(key)?, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| failure(key, e))
    }

    /// The object under `key`, if it is at most `limit` bytes (asked before it is read).
    pub async fn read(&self, key: &str, limit: u64) -> Result<Bytes, MediaStoreError> {
        let path = Self::path(key)?;
        let meta = self.inner.head(&path).await.map_err(|e| failure(key, e))?;
        if meta.size > limit {
            return Err(MediaStoreError::TooLarge {
                key: key.to_owned(),
                size: meta.size,
                limit,
            });
        }
        let bytes = self
            .inner
            .get(&path)
            .await
            .map_err(|e| failure(key, e))?
            .bytes()
            .await
            .map_err(|e| failure(key, e))?;
        // The object may have grown between the two calls.
        if bytes.len() as u64 > limit {
            return Err(MediaStoreError::TooLarge {
                key: key.to_owned(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }

    /// Deletes the object under `key`; one that is not there is fine.
    pub async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        match self.inner.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failure(key, error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_never_overwrites_and_reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = MediaStore::open(&format!("file://{}", dir.path().display())).expect("open");
        let key = "products/p/abc.png";
        assert_eq!(
            store
                .create(key, Bytes::from_static(b"first"))
                .await
                .expect("create"),
            Created::New
        );
        assert_eq!(
            store
                .create(key, Bytes::from_static(b"second"))
                .await
                .expect("again"),
            Created::Existed
        );
        assert_eq!(store.read(key, 5).await.expect("read"), "first");
        assert!(matches!(
            store.read(key, 4).await,
            Err(MediaStoreError::TooLarge { size: 5, .. })
        ));
        store.delete(key).await.expect("delete");
        store.delete(key).await.expect("deleting twice is fine");
        assert!(matches!(
            store.read(key, 5).await,
            Err(MediaStoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn keys_that_leave_the_store_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = MediaStore::open(&dir.path().display().to_string()).expect("open");
        for key in ["", "../etc/passwd", "products/../../x", "/abs", "a//b"] {
            assert!(
                matches!(
                    store.put(key, Bytes::from_static(b"x")).await,
                    Err(MediaStoreError::BadKey(_))
                ),
                "{key:?}"
            );
        }
        assert!(MediaStore::open("ftp://host/x").is_err());
        assert!(MediaStore::open("s3://").is_err());
    }
}
