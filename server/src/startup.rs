//! Building and running the whole server: the `Application` tests start on `127.0.0.1:0`.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use visavis_shared::{IceServer, ServerMessage};

use crate::config::Config;
use crate::hub::HubHandle;
use crate::routes::{self, cache_control_for, AppState};
use crate::tls;

/// How long a graceful shutdown waits for open requests before closing them.
const SHUTDOWN_TIMEOUT_SECS: u64 = 5;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds the listener and prepares the server. Must run inside a Tokio runtime, which the
    /// room hub is spawned on.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let welcome = Arc::new(ServerMessage::Config {
            ice_servers: ice_servers(&config),
        });
        let state = web::Data::new(AppState {
            hub: HubHandle::spawn(),
            welcome,
            static_dir: config.static_dir.clone(),
        });
        if !config.static_dir.join("index.html").is_file() {
            tracing::warn!(dir = %config.static_dir.display(), "no index.html in the static directory; run `trunk build --release`");
        }

        let static_dir = config.static_dir.clone();
        let http = HttpServer::new(move || {
            let static_dir = static_dir.clone();
            App::new()
                .app_data(state.clone())
                .wrap(Compress::default())
                .wrap_fn(|req, srv| {
                    let cache = cache_control_for(req.path());
                    let response = actix_web::dev::Service::call(srv, req);
                    async move {
                        let mut response = response.await?;
                        let headers = response.headers_mut();
                        if !headers.contains_key(header::CACHE_CONTROL) {
                            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                        }
                        Ok(response)
                    }
                })
                .configure(move |cfg| routes::configure(cfg, static_dir))
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);

        let scheme = if config.no_tls { "http" } else { "https" };
        let http = if config.no_tls {
            http.listen(listener)?
        } else {
            http.listen_rustls_0_23(listener, tls::server_config(&config)?)?
        };
        tracing::info!(address = %config.listen, port, scheme, "listening");
        Ok(Application {
            port,
            server: http.run(),
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that can stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGTERM, Ctrl-C, or a handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The ICE server list handed to every browser.
fn ice_servers(config: &Config) -> Vec<IceServer> {
    let stun = config.stun_urls();
    if stun.is_empty() {
        Vec::new()
    } else {
        vec![IceServer {
            urls: stun,
            username: None,
            credential: None,
        }]
    }
}
