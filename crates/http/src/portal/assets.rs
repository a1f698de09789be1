//! The portal's static files (`crates/http/static/`), embedded in the binary. Pages name them with
//! a hash of their content (`?v=…`), so browsers may keep them for a year.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

use super::PortalError;
use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Files;

/// htmx, as vendored (its licence is beside it).
pub const HTMX: &str = "htmx-2.0.11.min.js";
pub const STYLESHEET: &str = "portal.css";
pub const SCRIPT: &str = "portal.js";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name}", web::get().to(serve)).route("/manifest.webmanifest", web::get().to(manifest));
}

/// The web app manifest: the portal installs as an app that opens on the inbox.
async fn manifest() -> HttpResponse {
    let body = serde_json::json!({
        "name": "Switchboard",
        "short_name": "Switchboard",
        "description": "Your texts: read and answer them.",
        "start_url": "/portal/inbox",
        "scope": "/portal/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0a58ca",
        "icons": [
            {"src": href("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": href("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/manifest+json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body.to_string())
}

/// The address of a static file, with its content's hash.
pub fn href(name: &str) -> String {
    static HASHES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        Files::iter()
            .filter_map(|n| {
                let file = Files::get(&n)?;
                let hash: String = file.metadata.sha256_hash()[..6].iter().map(|b| format!("{b:02x}")).collect();
                Some((n.into_owned(), hash))
            })
            .collect()
    });
    let hash = hashes.iter().find(|(n, _)| n == name).map_or("0", |(_, h)| h.as_str());
    format!("/portal/static/{name}?v={hash}")
}

async fn serve(name: web::Path<String>) -> Result<HttpResponse, PortalError> {
    let file = Files::get(&name).ok_or_else(ApiError::not_found)?;
    let kind = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(file.data.into_owned()))
}
