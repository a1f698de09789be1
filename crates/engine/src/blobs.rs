//! Where media bytes are kept, chosen by configuration: the local disk (one instance; the
//! default), the database (several instances on one PostgreSQL, no other service), or
//! S3-compatible object storage (the `object_store` crate). Every attachment is written whole
//! before its row says `stored`, and is read and removed by the key its row names.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use secrecy::ExposeSecret;
use switchboard_store::Store;
use tokio::io::AsyncWriteExt;

/// Where media are kept, as configured.
#[derive(Debug, Clone)]
pub enum MediaStore {
    /// Files under a directory of this machine.
    Disk(PathBuf),
    /// Rows of the database (`media_blob`).
    Database,
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// An S3-compatible bucket and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// The service's URL (MinIO, Ceph, moto…); AWS's own when absent.
    pub endpoint: Option<String>,
    pub region: String,
    /// With no keys, the instance's environment (an IAM role, `AWS_*` variables) provides them.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<secrecy::SecretString>,
    /// Plain-http endpoints (local tests only).
    pub allow_http: bool,
}

/// The media store the engine uses.
#[derive(Debug, Clone)]
pub(crate) enum Blobs {
    Disk(PathBuf),
    Database(Store),
    Object(Arc<dyn ObjectStore>),
}

/// Why media could not be kept or read (logged; never shown to a client).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BlobError(String);

impl BlobError {
    /// Whether nothing is kept under the key.
    fn missing(key: &str) -> Self {
        Self(format!("nothing is kept under {key}"))
    }
}

impl Blobs {
    pub(crate) fn new(config: &MediaStore, store: &Store) -> Result<Self, BlobError> {
        Ok(match config {
            MediaStore::Disk(dir) => Self::Disk(dir.clone()),
            MediaStore::Database => Self::Database(store.clone()),
            MediaStore::S3(s3) => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                    builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose_secret());
                }
                let built = builder.build().map_err(|e| BlobError(format!("the S3 media store: {e}")))?;
                Self::Object(Arc::new(built))
            }
        })
    }

    fn object_path(key: &str) -> Result<ObjectPath, BlobError> {
        ObjectPath::parse(key).map_err(|e| BlobError(format!("{key} is not a media key: {e}")))
    }

    /// Starts writing the attachment `key`: to a partial file on disk (renamed once whole), in
    /// memory for the other stores (which take it whole).
    pub(crate) async fn upload(&self, key: &str) -> Result<Upload, BlobError> {
        match self {
            Self::Disk(dir) => {
                let path = dir.join(key);
                let partial = path.with_extension("part");
                let io = |e: std::io::Error| BlobError(format!("writing {}: {e}", partial.display()));
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(io)?;
                }
                let file = tokio::fs::File::create(&partial).await.map_err(io)?;
                Ok(Upload { key: key.to_owned(), into: Into::File { file, partial, path } })
            }
            Self::Database(store) => {
                Ok(Upload { key: key.to_owned(), into: Into::Database { store: store.clone(), bytes: Vec::new() } })
            }
            Self::Object(objects) => {
                Ok(Upload { key: key.to_owned(), into: Into::Object { objects: objects.clone(), bytes: Vec::new() } })
            }
        }
    }

    /// Keeps `bytes` whole under `key`.
    pub(crate) async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let mut upload = self.upload(key).await?;
        if let Err(e) = upload.write(bytes).await {
            upload.abort().await;
            return Err(e);
        }
        upload.finish().await
    }

    /// The bytes kept under `key`.
    pub(crate) async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        match self {
            Self::Disk(dir) => {
                let path = dir.join(key);
                tokio::fs::read(&path).await.map_err(|e| BlobError(format!("reading {}: {e}", path.display())))
            }
            Self::Database(store) => store.get_blob(key).await.map_err(|e| match e {
                switchboard_store::StoreError::NotFound => BlobError::missing(key),
                e => BlobError(format!("reading {key} from the database: {e}")),
            }),
            Self::Object(objects) => {
                let got = objects.get(&Self::object_path(key)?).await;
                let got = got.map_err(|e| BlobError(format!("reading {key} from S3: {e}")))?;
                let bytes = got.bytes().await.map_err(|e| BlobError(format!("reading {key} from S3: {e}")))?;
                Ok(bytes.to_vec())
            }
        }
    }

    /// Removes what is kept under `key`; a failure is logged (the bytes stay, unreferenced).
    pub(crate) async fn delete(&self, key: &str) {
        let result = match self {
            Self::Disk(dir) => match tokio::fs::remove_file(dir.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Self::Database(store) => store.delete_blob(key).await.map_err(|e| e.to_string()),
            Self::Object(objects) => match Self::object_path(key) {
                Ok(path) => match objects.delete(&path).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
        };
        if let Err(e) = result {
            tracing::warn!(key, error = %e, "could not remove stored media");
        }
    }
}

/// An attachment being written.
pub(crate) struct Upload {
    key: String,
    into: Into,
}

/// Where an upload goes: a partial file, or memory until its one write to the database or S3.
enum Into {
    File { file: tokio::fs::File, partial: PathBuf, path: PathBuf },
    Database { store: Store, bytes: Vec<u8> },
    Object { objects: Arc<dyn ObjectStore>, bytes: Vec<u8> },
}

impl Upload {
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        match &mut self.into {
            Into::File { file, partial, .. } => {
                file.write_all(chunk).await.map_err(|e| BlobError(format!("writing {}: {e}", partial.display())))
            }
            Into::Database { bytes, .. } | Into::Object { bytes, .. } => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    /// Keeps what was written, whole: synced and renamed into place on disk, one write otherwise.
    pub(crate) async fn finish(self) -> Result<(), BlobError> {
        match self.into {
            Into::File { file, partial, path } => {
                let io = |e: std::io::Error| BlobError(format!("writing {}: {e}", partial.display()));
                let synced = file.sync_all().await.map_err(io);
                drop(file);
                let renamed = match synced {
                    Ok(()) => tokio::fs::rename(&partial, &path).await.map_err(io),
                    Err(e) => Err(e),
                };
                if renamed.is_err() {
                    let _ = tokio::fs::remove_file(&partial).await;
                }
                renamed
            }
            Into::Database { store, bytes } => {
                store.put_blob(&self.key, bytes).await.map_err(|e| BlobError(format!("keeping {}: {e}", self.key)))
            }
            Into::Object { objects, bytes } => {
                let path = Blobs::object_path(&self.key)?;
                objects
                    .put(&path, bytes.into())
                    .await
                    .map(|_| ())
                    .map_err(|e| BlobError(format!("keeping {} in S3: {e}", self.key)))
            }
        }
    }

    /// Throws away what was written.
    pub(crate) async fn abort(self) {
        if let Into::File { file, partial, .. } = self.into {
            drop(file);
            let _ = tokio::fs::remove_file(&partial).await;
        }
    }
}
