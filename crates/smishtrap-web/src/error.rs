use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What can go wrong in the console. HTTP answers carry a stable `code` and a short message;
/// details (paths, store errors) go to the log, not to the client.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid console token in {origin}: {reason}")]
    InvalidToken { origin: String, reason: &'static str },
    #[error("event store: {0}")]
    Store(#[from] smishtrap_store::StoreError),
    #[error("invalid {field}: {reason}")]
    BadRequest { field: &'static str, reason: String },
    #[error("not found")]
    NotFound,
    #[error("too many live streams open")]
    TooManyStreams,
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    pub(crate) fn bad(field: &'static str, reason: impl Into<String>) -> WebError {
        WebError::BadRequest { field, reason: reason.into() }
    }

    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            WebError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            WebError::TooManyStreams => (StatusCode::SERVICE_UNAVAILABLE, "too_many_streams"),
            WebError::Io { .. }
            | WebError::InvalidToken { .. }
            | WebError::Store(_)
            | WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The message a client may see: request problems verbatim, server problems generic.
    pub(crate) fn public_message(&self) -> String {
        match self.status_and_code().0 {
            StatusCode::INTERNAL_SERVER_ERROR => "internal error, see the console log".into(),
            _ => self.to_string(),
        }
    }
}

/// The JSON error body of the API: `{"error": {"code", "message"}}`.
pub(crate) fn json_error(status: StatusCode, code: &'static str, message: String) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "console request failed");
        }
        json_error(status, code, self.public_message())
    }
}
