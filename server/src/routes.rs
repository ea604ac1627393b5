//! HTTP routes: signaling at `/ws`, health, and the Trunk build with an SPA fallback.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use actix_files::Files;
use actix_web::body::BodyStream;

use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use visavis_shared::ServerMessage;

use visavis_shared::ErrorCode;

use crate::hub::HubHandle;
use crate::ice::IceConfig;
use crate::limits::{client_ip, ConnectionSlots, IpLimits, MessageLimiter};
use crate::metrics::Metrics;
use crate::outbound::{self, Frame};
use crate::precompressed;
use crate::security::origin_allowed;
use crate::ws::{run_socket, SocketContext};

/// State shared by all workers.
pub struct AppState {
    /// The hub that owns the rooms.
    pub hub: HubHandle,
    /// The ICE servers handed to each socket.
    pub ice: Arc<IceConfig>,
    /// The Trunk build directory.
    pub static_dir: PathBuf,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Per-IP budgets.
    pub ip_limits: Arc<IpLimits>,
    /// The global connection cap.
    pub slots: ConnectionSlots,
    /// Origins besides the page's own that may open `/ws`.
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// The per-connection message budget.
    pub messages_per_second: NonZeroU32,
    /// The per-connection burst.
    pub message_burst: NonZeroU32,
    /// Whether client IPs may be logged (at debug level).
    pub log_ips: bool,
    /// The bearer token that unlocks `/metrics` on the main listener, if any.
    pub metrics_token: Option<String>,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: PathBuf) {
    let index = static_dir.join("index.html");
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics_with_token))
        .route("/ws", web::get().to(websocket))
        .route("/r/{room}", web::get().to(app_page))
        .service(
            web::resource("/")
                .route(web::get().to(app_page))
                .route(web::head().to(app_page)),
        );
    // Files with build-time Brotli/gzip copies get a route each, ahead of the plain file service.
    for (path, asset) in precompressed::scan(&static_dir) {
        let serve = move |req: HttpRequest| {
            let asset = asset.clone();
            async move { precompressed::respond(&req, &asset).await }
        };
        cfg.service(
            web::resource(path)
                .route(web::get().to(serve.clone()))
                .route(web::head().to(serve)),
        );
    }
    cfg.service(
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

/// Ready when the room hub runs and there is an app to serve.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let hub = state.hub.is_alive();
    let app = state.static_dir.join("index.html").is_file();
    // Cluster mode: without Redis no new call can be placed, so the balancer should look
    // elsewhere.
    let redis = state.hub.cluster().map(|cluster| cluster.is_connected());
    let body = match redis {
        None => format!("{{\"hub\":{hub},\"static_files\":{app}}}\n"),
        Some(redis) => format!("{{\"hub\":{hub},\"static_files\":{app},\"redis\":{redis}}}\n"),
    };
    let mut response = if hub && app && redis != Some(false) {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `/metrics` on the main listener: only with the configured bearer token.
async fn metrics_with_token(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = &state.metrics_token else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found\n");
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/plain; charset=utf-8")
            .body("metrics need a bearer token\n");
    }
    metrics_response(&state.metrics)
}

/// The Prometheus text exposition of `metrics`.
pub fn metrics_response(metrics: &Metrics) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.render())
}

/// Compares secrets without an early exit, so timing does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let headers = req.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !origin_allowed(origin, host, &state.allowed_origins) {
        state
            .metrics
            .rejected
            .with_label_values(&["foreign_origin"])
            .inc();
        tracing::info!(reason = "foreign_origin", "refused a WebSocket upgrade");
        return Ok(HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("origin not allowed\n"));
    }
    let forwarded_for = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = client_ip(req.peer_addr(), forwarded_for, &state.trusted_proxies);
    if !state.ip_limits.allow_connection(ip) {
        state
            .metrics
            .rejected
            .with_label_values(&["ip_connection_limit"])
            .inc();
        tracing::info!(
            reason = "ip_connection_limit",
            "refused a WebSocket upgrade"
        );
        return Ok(HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, "60"))
            .content_type("text/plain; charset=utf-8")
            .body("too many connections from your address\n"));
    }
    // actix-ws does the handshake and reads frames; the frames we write come from our own
    // queue (`outbound.rs`), which the hub shards fill directly.
    let (response, _session, stream) = actix_ws::handle(&req, body)?;
    let (outbound, body) = outbound::channel();
    let response = response
        .set_body(BodyStream::new(body))
        .map_into_boxed_body();
    let Some(slot) = state.slots.try_take() else {
        // At the cap the socket is still accepted, so the browser gets a clear reason instead of
        // a bare failed handshake, and is then closed.
        state
            .metrics
            .rejected
            .with_label_values(&[ErrorCode::ServerBusy.as_str()])
            .inc();
        tracing::info!(reason = "max_connections", "refused a connection");
        actix_web::rt::spawn(async move {
            let busy = ServerMessage::error(
                ErrorCode::ServerBusy,
                "the server is at its connection limit; try again later",
            );
            let _ = outbound.send(Frame::Text(busy.to_json().into())).await;
            let _ = outbound.send(Frame::Close(None)).await;
        });
        return Ok(response);
    };
    let context = SocketContext {
        hub: state.hub.clone(),
        ice: state.ice.clone(),
        metrics: state.metrics.clone(),
        ip_limits: state.ip_limits.clone(),
        client_ip: ip,
        log_ips: state.log_ips,
        limiter: MessageLimiter::new(state.messages_per_second, state.message_burst),
        slot,
    };
    // The message stream is tied to this worker's thread, so the task is spawned locally.
    actix_web::rt::spawn(run_socket(outbound, stream, context));
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
    let mut response = precompressed::respond(req, &precompressed::Asset::at(index)).await?;
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
    // Trunk names files by a 64-bit hash printed in hex without zero padding, so one in a few
    // hundred builds has a name of 14 or 15 digits rather than 16; 12 still rules out words.
    let hashed = name
        .split(['-', '.', '_'])
        .any(|part| part.len() >= 12 && part.chars().all(|c| c.is_ascii_hexdigit()));
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
        // A hash with leading zero digits is printed shorter.
        assert_eq!(
            cache_control_for("/visavis-client-25528d29037b29.js"),
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
