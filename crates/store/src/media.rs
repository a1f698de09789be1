//! MMS media: what the fetcher needs to download an attachment while its link is valid, and what
//! the API needs to serve it afterwards to the people allowed to see its message.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::media;
use crate::inbox::Viewer;
use crate::{Store, StoreError};

/// Where an attachment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaState {
    /// Not fetched yet (or a fetch will be retried).
    Pending,
    /// Stored locally.
    Stored,
    /// Larger than the cap: never stored.
    TooLarge,
    /// A content type Switchboard does not keep.
    Rejected,
    /// Every fetch failed until the link expired.
    Failed,
    /// Not kept: the tenant's media quota was full.
    OverQuota,
    /// Kept, then removed past `retention_media_days`.
    Expired,
}

impl MediaState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Stored => "stored",
            Self::TooLarge => "too_large",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::OverQuota => "over_quota",
            Self::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "stored" => Self::Stored,
            "too_large" => Self::TooLarge,
            "rejected" => Self::Rejected,
            "failed" => Self::Failed,
            "over_quota" => Self::OverQuota,
            "expired" => Self::Expired,
            _ => Self::Pending,
        }
    }
}

/// One attachment.
#[derive(Debug, Clone)]
pub struct MediaItem {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub message_id: Uuid,
    pub source_url: String,
    pub file_name: Option<String>,
    pub mime_type: String,
    /// Bytes, when known.
    pub size: Option<u64>,
    /// Path relative to the media directory, once stored.
    pub storage_path: Option<String>,
    pub state: MediaState,
}

fn item(m: media::Model) -> MediaItem {
    MediaItem {
        id: m.id,
        tenant_id: m.tenant_id,
        message_id: m.message_id,
        source_url: m.source_url,
        file_name: m.file_name,
        mime_type: m.mime_type,
        size: u64::try_from(m.size).ok(),
        storage_path: m.storage_path,
        state: MediaState::parse(&m.state),
    }
}

async fn media_bytes(db: &impl sea_orm::ConnectionTrait, tenant: Uuid) -> Result<u64, StoreError> {
    let rows = crate::sql::query(
        db,
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM media WHERE tenant_id = $1 AND state = 'stored'",
        vec![tenant.into()],
    )
    .await?;
    let n: i64 = match rows.first() {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Store {
    /// An attachment by id, whatever its tenant (for the fetcher).
    pub async fn media_item(&self, id: Uuid) -> Result<MediaItem, StoreError> {
        media::Entity::find_by_id(id).one(self.db()).await?.map(item).ok_or(StoreError::NotFound)
    }

    /// Bytes of media the tenant keeps.
    pub async fn media_bytes(&self, tenant: Uuid) -> Result<u64, StoreError> {
        media_bytes(self.db(), tenant).await
    }

    /// Records the outcome of a fetch and returns the state recorded: a stored attachment that
    /// would take its tenant past `quota` bytes is recorded `OverQuota` instead (its file is then
    /// the caller's to remove). The tenant's stored media are counted under a lock of its row on
    /// PostgreSQL (SQLite has one writer), so fetches finishing at once cannot pass the quota together.
    pub async fn set_media_state(
        &self,
        id: Uuid,
        state: MediaState,
        stored: Option<(String, u64, String)>,
        quota: u64,
    ) -> Result<MediaState, StoreError> {
        let txn = self.write_txn().await?;
        let current = media::Entity::find_by_id(id).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let tenant = current.tenant_id;
        let mut model: media::ActiveModel = current.into();
        let mut state = state;
        if let Some((path, size, mime)) = stored {
            if sea_orm::ConnectionTrait::get_database_backend(&txn) == sea_orm::DbBackend::Postgres {
                crate::sql::query(&txn, "SELECT id FROM tenant WHERE id = $1 FOR NO KEY UPDATE", vec![tenant.into()])
                    .await?;
            }
            let held = media_bytes(&txn, tenant).await?;
            if held.saturating_add(size) > quota {
                state = MediaState::OverQuota;
            } else {
                model.storage_path = Set(Some(path));
                model.size = Set(i64::try_from(size).unwrap_or(i64::MAX));
                model.mime_type = Set(mime);
            }
        }
        model.state = Set(state.as_str().into());
        model.update(&txn).await?;
        txn.commit().await?;
        Ok(state)
    }

    /// A picture attached to an outgoing text, by the token of its public link (the link Flowroute
    /// fetches it from); stored ones only.
    pub async fn public_media(&self, token: &str) -> Result<MediaItem, StoreError> {
        media::Entity::find()
            .filter(media::Column::PublicToken.eq(token))
            .filter(media::Column::State.eq(MediaState::Stored.as_str()))
            .one(self.db())
            .await?
            .map(item)
            .ok_or(StoreError::NotFound)
    }

    /// An attachment of the tenant whose message the viewer may see.
    pub async fn viewer_media(&self, tenant: Uuid, viewer: Viewer<'_>, id: Uuid) -> Result<MediaItem, StoreError> {
        let m = media::Entity::find()
            .filter(media::Column::TenantId.eq(tenant))
            .filter(media::Column::Id.eq(id))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        // Seeing the message is what allows seeing its media.
        self.viewer_message(tenant, viewer, m.message_id).await?;
        Ok(item(m))
    }
}

/// A random, URL-safe token of 256 bits: the secret part of a picture's public link
/// (`/media/<token>`).
pub fn link_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
