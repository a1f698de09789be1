//! Media bytes kept in the database (`media_store = "database"`): every instance on one
//! PostgreSQL can serve them with no other service to run. One row per attachment, written whole.

use crate::{Store, StoreError, now, sql};

impl Store {
    /// Keeps `bytes` under `key`, replacing what was there (a fetch tried again).
    pub async fn put_blob(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        sql::execute(
            self.db(),
            "INSERT INTO media_blob (key, bytes, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, created_at = excluded.created_at",
            vec![key.into(), bytes.into(), now().into()],
        )
        .await?;
        Ok(())
    }

    /// The bytes kept under `key`; [`StoreError::NotFound`] if none are.
    pub async fn get_blob(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let rows = sql::query(self.db(), "SELECT bytes FROM media_blob WHERE key = $1", vec![key.into()]).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(row.try_get_by_index::<Vec<u8>>(0)?)
    }

    /// Forgets the bytes under `key` (nothing if there are none).
    pub async fn delete_blob(&self, key: &str) -> Result<(), StoreError> {
        sql::execute(self.db(), "DELETE FROM media_blob WHERE key = $1", vec![key.into()]).await?;
        Ok(())
    }
}
