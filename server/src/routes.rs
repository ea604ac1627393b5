//! HTTP routes: signaling at `/ws`, health, and the Trunk build with an SPA fallback.

use std::path::PathBuf;
use std::sync::Arc;

use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use visavis_shared::ServerMessage;

use crate::hub::HubHandle;
use crate::ws::{run_socket, SocketContext};

/// State shared by all workers.
pub struct AppState {
    /// The hub that owns the rooms.
    pub hub: HubHandle,
    /// The `config` message every new socket receives first.
    pub welcome: Arc<ServerMessage>,
    /// The Trunk build directory.
    pub static_dir: PathBuf,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: PathBuf) {
    let index = static_dir.join("index.html");
    cfg.route("/healthz", web::get().to(healthz))
        .route("/ws", web::get().to(websocket))
        .route("/r/{room}", web::get().to(app_page))
        .service(
            Files::new("/", static_dir)
                .index_file("index.html")
                .default_handler(fn_service(move |req: ServiceRequest| {
                    let index = index.clone();
                    async move { spa_fallback(req, index).await }
                })),
        );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body("ok\n")
}

async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let context = SocketContext {
        hub: state.hub.clone(),
        welcome: state.welcome.clone(),
    };
    // The message stream is tied to this worker's thread, so the task is spawned locally.
    actix_web::rt::spawn(run_socket(session, stream, context));
    Ok(response)
}

async fn app_page(req: HttpRequest, state: web::Data<AppState>) -> actix_web::Result<HttpResponse> {
    index_response(&req, state.static_dir.join("index.html")).await
}

/// Unknown paths that look like app routes (no file extension) get the app; anything else that
/// is missing is a real 404, so a broken asset link fails visibly instead of loading HTML.
async fn spa_fallback(req: ServiceRequest, index: PathBuf) -> actix_web::Result<ServiceResponse> {
    let (req, _) = req.into_parts();
    let last_segment = req.path().rsplit('/').next().unwrap_or("");
    let response = if last_segment.contains('.') {
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found\n")
    } else {
        index_response(&req, index).await?
    };
    Ok(ServiceResponse::new(req, response))
}

async fn index_response(req: &HttpRequest, index: PathBuf) -> actix_web::Result<HttpResponse> {
    let mut response = NamedFile::open_async(index).await?.into_response(req);
    // The page names hashed assets; it must be revalidated so a new build is picked up.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The Cache-Control for a static asset path. Trunk puts a content hash in asset names, so those
/// can be cached forever; everything else is revalidated.
pub fn cache_control_for(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    let hashed = name
        .split(['-', '.', '_'])
        .any(|part| part.len() >= 16 && part.chars().all(|c| c.is_ascii_hexdigit()));
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_trunk_assets_are_cached_forever() {
        assert_eq!(
            cache_control_for("/visavis-client-3f2a9c1b7d4e5f60_bg.wasm"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control_for("/main-0123456789abcdef.css"),
            "public, max-age=31536000, immutable"
        );
    }

    #[test]
    fn pages_and_unhashed_files_are_revalidated() {
        assert_eq!(cache_control_for("/"), "no-cache");
        assert_eq!(cache_control_for("/index.html"), "no-cache");
        assert_eq!(cache_control_for("/favicon.svg"), "no-cache");
    }
}
