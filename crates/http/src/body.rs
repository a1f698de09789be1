//! The JSON body extractor: a size limit, JSON content types only, and errors that say what is
//! wrong — `400 malformed_body` for unparseable JSON, `422 validation_failed` naming the field for
//! well-formed JSON of the wrong shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use switchboard_core::FieldError;

use crate::error::ApiError;

/// Largest admin API body accepted.
pub const MAX_BODY: usize = 256 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses JSON, separating syntax errors (400) from shape errors (422 with the field's path).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        classify(e.into_inner(), path)
    })?;
    de.end().map_err(|e| classify(e, String::new()))?;
    Ok(value)
}

fn classify(inner: serde_json::Error, path: String) -> ApiError {
    if inner.is_data() {
        let field = if path.is_empty() || path == "." { "body".to_owned() } else { path };
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        ApiError::invalid(vec![FieldError { field, message }])
    } else {
        ApiError::malformed(format!("The body is not valid JSON: {inner}."))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as Content-Type: application/json.",
                ));
            }
            if declared.is_some_and(|n| n > MAX_BODY) {
                return Err(ApiError::too_large(MAX_BODY));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::malformed("The body could not be read."))?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ApiError::too_large(MAX_BODY));
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(Json)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        n: u32,
    }

    #[test]
    fn syntax_errors_are_malformed_and_shape_errors_name_the_field() {
        let e = |b: &str| parse::<Body>(b.as_bytes()).err().map(|e| (e.code(), e.to_string()));
        assert_eq!(e("{").map(|x| x.0), Some("malformed_body"));
        assert_eq!(e(r#"{"name":"a","items":[]} x"#).map(|x| x.0), Some("malformed_body"));
        assert_eq!(e("").map(|x| x.0), Some("malformed_body"));
        let shape = e(r#"{"name":"a","items":[{"n":"x"}]}"#);
        assert_eq!(shape.as_ref().map(|x| x.0), Some("validation_failed"));
        let err = parse::<Body>(br#"{"name":"a","items":[{"n":-1}]}"#).err();
        assert!(format!("{err:?}").contains("items[0].n"), "{err:?}");
        let unknown = parse::<Body>(br#"{"name":"a","items":[],"extra":1}"#).err();
        assert!(format!("{unknown:?}").contains("unknown field `extra`"), "{unknown:?}");
        assert!(parse::<Body>(br#"{"name":"a","items":[]}"#).is_ok());
    }
}
