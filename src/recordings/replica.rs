//! The copy of recordings beside the Litestream replicas: `ROOT/recordings/<tenant>/<file>` under the same
//! replica root (`--replica-url`), so a region that restores or takes over a tenant can still serve its
//! recordings. `file:///dir` (a mounted disk) is a folder; `s3://bucket/prefix?endpoint=…&region=…` is S3 or an
//! S3-compatible store (Tigris, MinIO), reached with presigned requests (`rusty-s3`) and the credentials
//! Litestream uses (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`).
//!
//! Recordings are written once and never changed, only deleted, so a plain object copy is all they need.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::TryStreamExt as _;
use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};
use tokio::io::AsyncWriteExt as _;

use crate::edge::{ReplicaCredentials, ReplicaRoot};

/// How long a presigned request stays valid (it is used at once).
const SIGNED_FOR: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("the replica URL cannot hold recordings: {0}")]
    Unsupported(String),
    #[error("the replica's S3 endpoint: {0}")]
    Endpoint(#[from] url::ParseError),
    #[error("the replica's S3 bucket: {0}")]
    Bucket(#[from] rusty_s3::BucketError),
    #[error("replica file: {0}")]
    Io(#[from] std::io::Error),
    #[error("replica request: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the replica answered {status} to {method} {key}")]
    Status {
        method: &'static str,
        key: String,
        status: reqwest::StatusCode,
    },
}

/// Where recordings are copied.
pub enum Replica {
    Folder(PathBuf),
    S3(Box<S3>),
}

pub struct S3 {
    bucket: Bucket,
    /// Key prefix inside the bucket, without slashes at either end (may be empty).
    prefix: String,
    credentials: Option<Credentials>,
    http: reqwest::Client,
}

impl Replica {
    /// The replica under `root`; S3 requests are signed with `credentials` (anonymous when `None`).
    pub fn new(
        root: &ReplicaRoot,
        credentials: Option<&ReplicaCredentials>,
    ) -> Result<Self, ReplicaError> {
        let base = root.base();
        if let Some(path) = base.strip_prefix("file://") {
            return Ok(Self::Folder(PathBuf::from(path)));
        }
        let Some(rest) = base.strip_prefix("s3://") else {
            return Err(ReplicaError::Unsupported(format!(
                "{base}: only file:// and s3:// are supported"
            )));
        };
        let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let region = root.param("region").unwrap_or("us-east-1").to_string();
        let endpoint = match root.param("endpoint") {
            Some(endpoint) => endpoint.to_string(),
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        let endpoint = url::Url::parse(&endpoint)?;
        let style = if root.param("forcePathStyle") == Some("true") {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, name.to_string(), region)?;
        crate::brain::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(600))
            .build()
            .expect("invariant: a client with these options always builds");
        Ok(Self::S3(Box::new(S3 {
            bucket,
            prefix: prefix.trim_matches('/').to_string(),
            credentials: credentials.map(|c| match &c.session_token {
                Some(token) => {
                    Credentials::new_with_token(&c.access_key_id, &c.secret_access_key, token)
                }
                None => Credentials::new(&c.access_key_id, &c.secret_access_key),
            }),
            http,
        })))
    }

    /// Copies `file` to `key` (replacing what is there).
    pub async fn put(&self, key: &str, file: &Path) -> Result<(), ReplicaError> {
        match self {
            Self::Folder(root) => {
                let target = root.join(key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                // A reader never sees half a file: copy aside, then rename into place.
                let partial = target.with_extension("partial");
                tokio::fs::copy(file, &partial).await?;
                tokio::fs::rename(&partial, &target).await?;
                Ok(())
            }
            Self::S3(s3) => {
                let key = s3.key(key);
                let url = s3
                    .bucket
                    .put_object(s3.credentials.as_ref(), &key)
                    .sign(SIGNED_FOR);
                let source = tokio::fs::File::open(file).await?;
                let length = source.metadata().await?.len();
                let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(source));
                let response = s3
                    .http
                    .put(url)
                    .header(reqwest::header::CONTENT_LENGTH, length)
                    .body(body)
                    .send()
                    .await?;
                check(response, "PUT", key).await.map(drop)
            }
        }
    }

    /// Copies `key` into `into` (which it creates); false when the replica does not have it.
    pub async fn fetch(&self, key: &str, into: &Path) -> Result<bool, ReplicaError> {
        if let Some(parent) = into.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = into.with_extension("partial");
        match self {
            Self::Folder(root) => match tokio::fs::copy(root.join(key), &partial).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            },
            Self::S3(s3) => {
                let key = s3.key(key);
                let url = s3
                    .bucket
                    .get_object(s3.credentials.as_ref(), &key)
                    .sign(SIGNED_FOR);
                let response = s3.http.get(url).send().await?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(false);
                }
                let response = check(response, "GET", key).await?;
                let mut out = tokio::fs::File::create(&partial).await?;
                let mut body = response.bytes_stream();
                while let Some(chunk) = body.try_next().await? {
                    out.write_all(&chunk).await?;
                }
                out.sync_all().await?;
            }
        }
        tokio::fs::rename(&partial, into).await?;
        Ok(true)
    }

    /// Removes `key`; one that is not there is no error.
    pub async fn delete(&self, key: &str) -> Result<(), ReplicaError> {
        match self {
            Self::Folder(root) => match tokio::fs::remove_file(root.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            Self::S3(s3) => {
                let key = s3.key(key);
                let url = s3
                    .bucket
                    .delete_object(s3.credentials.as_ref(), &key)
                    .sign(SIGNED_FOR);
                let response = s3.http.delete(url).send().await?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(());
                }
                check(response, "DELETE", key).await.map(drop)
            }
        }
    }
}

impl S3 {
    fn key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

async fn check(
    response: reqwest::Response,
    method: &'static str,
    key: String,
) -> Result<reqwest::Response, ReplicaError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    tracing::warn!(%status, method, key, body = %body.chars().take(500).collect::<String>(), "replica refused a request");
    Err(ReplicaError::Status {
        method,
        key,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_name_the_bucket_prefix_endpoint_and_style() {
        let root =
            ReplicaRoot::parse("s3://backups/voxedge/fra?endpoint=http://127.0.0.1:9000&region=auto&forcePathStyle=true")
                .unwrap();
        let Replica::S3(s3) = Replica::new(&root, None).unwrap() else {
            panic!("an S3 replica")
        };
        assert_eq!(
            s3.key("recordings/t/c.flac"),
            "voxedge/fra/recordings/t/c.flac"
        );
        assert_eq!(s3.bucket.name(), "backups");
        assert_eq!(s3.bucket.region(), "auto");
        assert_eq!(
            s3.bucket.base_url().as_str(),
            "http://127.0.0.1:9000/backups/"
        );

        let aws = ReplicaRoot::parse("s3://backups?region=eu-west-1").unwrap();
        let Replica::S3(s3) = Replica::new(&aws, None).unwrap() else {
            panic!("an S3 replica")
        };
        assert_eq!(s3.key("k"), "k");
        assert_eq!(
            s3.bucket.base_url().as_str(),
            "https://backups.s3.eu-west-1.amazonaws.com/"
        );
        let folder = ReplicaRoot::parse("file:///replicas").unwrap();
        assert!(
            matches!(Replica::new(&folder, None), Ok(Replica::Folder(p)) if p == Path::new("/replicas"))
        );
        assert!(Replica::new(&ReplicaRoot::parse("gs://b/p").unwrap(), None).is_err());
    }
}
