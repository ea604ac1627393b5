//! The `visavis` binary: parse the configuration, start logging, run the server.

use clap::Parser;
use visavis::config::Config;
use visavis::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    visavis::telemetry::init(&config.log_format);
    // actix-web stops gracefully on SIGTERM and Ctrl-C by itself.
    Application::build(config)
        .await?
        .run_until_stopped()
        .await?;
    tracing::info!("stopped");
    Ok(())
}
