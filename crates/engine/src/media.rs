//! The MMS media fetcher. Flowroute's media links expire after about a week, so each attachment
//! is fetched soon after its text is stored, kept in the media store (at most 15 MB, only
//! content types a phone sends), and served by Switchboard from then on. A failed fetch is retried
//! and never holds up the text itself, which was delivered when it arrived.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::JobKind;
use switchboard_store::StoreError;
use switchboard_store::media::{MediaItem, MediaState};
use switchboard_store::outbound::Attachment;
use switchboard_store::outbox::ClaimedJob;
use tokio::sync::watch;

use crate::Engine;
use crate::worker::{self, Attempt};

/// Whether Switchboard keeps media of this type: pictures, audio, video, text, contact cards and
/// PDFs; nothing executable or renderable as a web page.
pub fn allowed_type(mime: &str) -> bool {
    let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (major, minor) = mime.split_once('/').unwrap_or(("", ""));
    match major {
        "image" => minor != "svg+xml",
        "audio" | "video" => true,
        "text" => matches!(minor, "plain" | "vcard" | "x-vcard" | "calendar" | "csv"),
        "application" => matches!(minor, "pdf" | "smil" | "smil+xml" | "vcard" | "ogg" | "octet-stream"),
        _ => false,
    }
}

/// The picture types a reply may attach, told by their first bytes (never by a file's name or
/// the type a browser claims): JPEG, PNG and GIF, which every US and Canadian carrier passes on.
pub fn picture_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// The refusal of a picture of `size` bytes, past Flowroute's MMS limit, in words.
pub fn picture_too_large(size: usize) -> StoreError {
    let limit = switchboard_flowroute::MMS_MAX_BYTES;
    StoreError::invalid(
        "attachment",
        format!(
            "the picture is {} KB; Flowroute sends pictures of at most {} KB ({limit} bytes)",
            size.div_ceil(1000),
            limit / 1000
        ),
    )
}

/// A picture's file name as kept: its last path part, printable, at most 100 characters.
fn kept_name(name: Option<&str>) -> Option<String> {
    let name = name?.rsplit(['/', '\\']).next()?.trim();
    let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    (!name.is_empty()).then_some(name)
}

impl Engine {
    /// Keeps a picture a person attaches to a text: a JPEG, PNG or GIF within Flowroute's MMS
    /// size limit and the tenant's media quota (refused in words otherwise), written whole to the
    /// media store, with an unguessable public link Flowroute fetches it from. The picture is the
    /// caller's to pass to [`Engine::queue_text`], which removes it if the text is refused.
    pub async fn keep_picture(
        &self,
        tenant: uuid::Uuid,
        bytes: &[u8],
        file_name: Option<&str>,
    ) -> Result<Attachment, StoreError> {
        let limit = switchboard_flowroute::MMS_MAX_BYTES;
        if bytes.is_empty() {
            return Err(StoreError::invalid("attachment", "the file is empty"));
        }
        if bytes.len() > limit {
            return Err(picture_too_large(bytes.len()));
        }
        let Some(mime) = picture_type(bytes) else {
            return Err(StoreError::invalid("attachment", "must be a JPEG, PNG or GIF picture"));
        };
        let size = bytes.len() as u64;
        let quota = self.config.media_quota_bytes;
        if self.store.media_bytes(tenant).await?.saturating_add(size) > quota {
            return Err(StoreError::Refused {
                code: "media_quota_full",
                detail: format!("the tenant's media quota of {quota} bytes is full; no picture can be attached"),
            });
        }
        let id = uuid::Uuid::now_v7();
        let key = media_key(tenant, id);
        if let Err(e) = self.blobs.put(&key, bytes).await {
            tracing::error!(%key, error = %e, "a picture could not be kept");
            return Err(StoreError::internal(format!("keeping a picture: {e}")));
        }
        let token = switchboard_store::media::link_token();
        Ok(Attachment {
            id,
            url: format!("{}/media/{token}", self.config.public_url),
            token,
            mime_type: mime.to_owned(),
            size,
            file_name: kept_name(file_name),
            storage_path: key,
        })
    }

    /// Removes the pictures whose text was not queued.
    pub(crate) async fn discard_pictures(&self, attachments: &[Attachment]) {
        for a in attachments {
            self.blobs.delete(&a.storage_path).await;
        }
    }

    /// The bytes of a stored attachment, by the key its row names (`storage_path`).
    pub async fn stored_media(&self, key: &str) -> Result<Vec<u8>, crate::BlobError> {
        self.blobs.get(key).await
    }
}

/// Where an attachment is kept in the media store: `<tenant id>/<media id>`.
pub fn media_key(tenant: uuid::Uuid, id: uuid::Uuid) -> String {
    format!("{tenant}/{id}")
}

/// The client the fetcher uses: names resolve to public addresses (and `private_targets`) only,
/// checked where the connection is made, so a name that changes its answer cannot slip through;
/// each redirect hop is checked like the first (no downgrade to http, at most three): a forged MMS
/// callback cannot make Switchboard fetch from the operator's internal network.
pub(crate) fn client(targets: &Arc<crate::net::Targets>) -> Result<reqwest::Client, reqwest::Error> {
    crate::net::guarded_client(targets, crate::net::Redirects::Follow)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
}

enum Failure {
    /// Worth another try later.
    Transient(String),
    /// Final: the attachment will never be stored.
    Final(MediaState, String),
}

async fn fetch(engine: &Engine, m: &MediaItem, key: &str) -> Result<(u64, String), Failure> {
    let cfg = &engine.config;
    let url = reqwest::Url::parse(&m.source_url).map_err(|_| Failure::Final(MediaState::Failed, "not a URL".into()))?;
    // Only the provider's https links are fetched; plain http only where configured (local tests),
    // and never after https in a chain of redirects.
    if url.scheme() != "https" && !(url.scheme() == "http" && cfg.media_allow_http) {
        return Err(Failure::Final(MediaState::Rejected, format!("refusing to fetch a {} URL", url.scheme())));
    }
    // An address written into the URL is not resolved, so it is checked here (and at each redirect).
    if let Err(why) = crate::net::check_literal(url.as_str(), &engine.targets) {
        return Err(Failure::Final(MediaState::Rejected, why));
    }
    let mut res = engine.media_http.get(url).send().await.map_err(|e| {
        if e.is_redirect() {
            // A hop the guard refused (or one too many) will be refused again.
            Failure::Final(MediaState::Rejected, crate::net::chain(&e))
        } else {
            Failure::Transient(format!("fetch failed: {}", crate::net::chain(&e)))
        }
    })?;
    let status = res.status();
    if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
        return Err(Failure::Final(MediaState::Failed, format!("the media host answered {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Transient(format!("the media host answered {status}")));
    }
    let served = res.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mime =
        served.unwrap_or_else(|| m.mime_type.clone()).split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !allowed_type(&mime) || !allowed_type(&m.mime_type) {
        return Err(Failure::Final(MediaState::Rejected, format!("content type {mime} is not kept")));
    }
    let cap = cfg.media_max_bytes;
    if res.content_length().is_some_and(|n| n > cap) || m.size.is_some_and(|n| n > cap) {
        return Err(Failure::Final(MediaState::TooLarge, format!("over the {cap}-byte cap")));
    }
    // The tenant's quota, checked before and while the attachment streams in (fetches of one
    // tenant running at once may pass it by their own sizes at most).
    let quota = cfg.media_quota_bytes;
    let held = engine
        .store
        .media_bytes(m.tenant_id)
        .await
        .map_err(|e| Failure::Transient(format!("reading the quota: {e}")))?;
    let over_quota =
        || Failure::Final(MediaState::OverQuota, format!("the tenant's media quota of {quota} bytes is full"));
    if held.saturating_add(res.content_length().unwrap_or(0)) > quota {
        return Err(over_quota());
    }
    let kept = |e: crate::BlobError| Failure::Transient(e.to_string());
    let mut upload = engine.blobs.upload(key).await.map_err(kept)?;
    let mut size: u64 = 0;
    loop {
        let chunk = match res.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                upload.abort().await;
                return Err(Failure::Transient(format!("download interrupted: {e}")));
            }
        };
        size += chunk.len() as u64;
        if size > cap {
            upload.abort().await;
            return Err(Failure::Final(MediaState::TooLarge, format!("over the {cap}-byte cap")));
        }
        if held.saturating_add(size) > quota {
            upload.abort().await;
            return Err(over_quota());
        }
        if let Err(e) = upload.write(&chunk).await {
            upload.abort().await;
            return Err(kept(e));
        }
    }
    upload.finish().await.map_err(kept)?;
    Ok((size, mime))
}

async fn attempt(engine: &Engine, job: &ClaimedJob) -> Attempt {
    let Some(id) = job.work.media_id() else { return Attempt::Done };
    let m = match engine.store.media_item(id).await {
        Ok(m) if m.state == MediaState::Pending => m,
        Ok(_) => return Attempt::Done,
        Err(e) => {
            return Attempt::Retry { error: format!("loading the media row: {e}"), retry_after: None, status: None };
        }
    };
    let key = media_key(m.tenant_id, m.id);
    let (state, stored, note) = match fetch(engine, &m, &key).await {
        Ok((size, mime)) => (MediaState::Stored, Some((key.clone(), size, mime)), None),
        Err(Failure::Final(state, why)) => (state, None, Some(why)),
        Err(Failure::Transient(why)) => return Attempt::Retry { error: why, retry_after: None, status: None },
    };
    if let Some(why) = note {
        tracing::warn!(media_id = %m.id, reason = %why, "media will not be stored");
    }
    match engine.store.set_media_state(m.id, state, stored, engine.config.media_quota_bytes).await {
        Ok(MediaState::OverQuota) if state == MediaState::Stored => {
            tracing::warn!(media_id = %m.id, "media will not be stored: the tenant's media quota is full");
            engine.blobs.delete(&key).await;
            Attempt::Done
        }
        Ok(_) => Attempt::Done,
        Err(e) => Attempt::Retry { error: format!("recording the media: {e}"), retry_after: None, status: None },
    }
}

/// Runs the media fetcher until `stop` turns true.
pub async fn run_media_worker(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let kind = worker::Kind {
        kind: JobKind::MediaFetch,
        concurrency: 8,
        lease: Duration::from_secs(600),
        // A tenant whose media host hangs holds two fetches, not all eight.
        per_tenant: 2,
        linger: Duration::ZERO,
        wake: |e| &e.media,
        retry: |e| &e.config.media_retry,
    };
    let load = |_: Arc<Engine>, jobs: Vec<worker::Held>| async move { jobs.into_iter().map(|j| (j, ())).collect() };
    worker::run_pipelined(engine, kind, stop, load, |engine, job, ()| async move { attempt(&engine, &job).await })
        .await;
}

#[cfg(test)]
mod tests {
    use super::allowed_type;

    #[test]
    fn kept_types() {
        for ok in [
            "image/jpeg",
            "image/png; charset=binary",
            "video/mp4",
            "audio/amr",
            "text/plain",
            "text/vcard",
            "application/pdf",
        ] {
            assert!(allowed_type(ok), "{ok}");
        }
        for no in ["text/html", "image/svg+xml", "application/javascript", "application/x-msdownload", "", "nonsense"] {
            assert!(!allowed_type(no), "{no}");
        }
    }
}
