//! Emulator of the oracle API (placeholder until it lands).

use axum::Router;
use reqwest::Url;

use super::ApiCtx;

/// The API's routes.
pub fn router(_ctx: ApiCtx) -> Router {
    Router::new()
}

/// Demo accounts in config form (spec §3).
pub fn demo_config(_base: &Url) -> String {
    String::new()
}
