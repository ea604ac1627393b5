//! The in-page floor of call set-up: a test-only page (`floor.html`, never shipped) that holds two
//! `RTCPeerConnection`s with the app's camera and microphone constraints and no server, served
//! by the harness on loopback. `measure_setup` times it beside the app, in the same run and the
//! same way: from the start to a newly decoded remote frame on both sides.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::setup_steps::{read_marks_named, since_start, Step};
use crate::{is_playing, Person, TestContext, VideoSample, PAGE_LOAD_TIMEOUT, VIDEO_TIMEOUT};

/// The floor page.
pub const FLOOR_HTML: &str = include_str!("floor.html");

/// The ids of the floor page's two remote videos (one per side).
pub const FLOOR_VIDEOS: [&str; 2] = ["floorRemoteA", "floorRemoteB"];

/// How often the floor page is polled while timing: as often as `measure_setup` polls the app.
pub const FLOOR_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// A one-page HTTP server on 127.0.0.1 (a secure context, so the page may use the camera).
pub struct FloorServer {
    port: u16,
    task: JoinHandle<()>,
}

impl FloorServer {
    /// Starts serving [`FLOOR_HTML`] at every path of a free loopback port.
    pub async fn start() -> anyhow::Result<FloorServer> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the floor page's port")?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // One request per connection (the response closes it); what was asked for
                    // does not matter, every path is the floor page.
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                         content-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{}",
                        FLOOR_HTML.len(),
                        FLOOR_HTML
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(FloorServer { port, task })
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/floor", self.port)
    }
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The floor in its own browser: the page's server and the person whose browser shows it.
pub struct Floor {
    person: Person,
    _server: FloorServer,
}

impl Floor {
    /// Starts the floor page's server and opens the page in a new browser of `ctx`.
    pub async fn open(ctx: &TestContext) -> anyhow::Result<Floor> {
        let person = ctx.person("floor").await;
        let server = FloorServer::start().await?;
        open_floor(&person, &server).await?;
        Ok(Floor {
            person,
            _server: server,
        })
    }

    /// Times one floor call ([`time_floor_call`]) and reads its steps (the page's `floor:`
    /// marks, in ms after its start), then ends it.
    pub async fn time_call(&self) -> anyhow::Result<(Duration, Vec<Step>)> {
        let time = time_floor_call(&self.person).await;
        let marks = read_marks_named(&self.person, "floor:").await;
        stop_floor_call(&self.person).await;
        Ok((time?, since_start("floor", &marks)))
    }
}

/// Opens the floor page in `person`'s browser and waits until its script has loaded.
pub async fn open_floor(person: &Person, server: &FloorServer) -> anyhow::Result<()> {
    person
        .client()
        .goto(&server.url())
        .await
        .context("opening the floor page")?;
    person
        .wait_until(
            "typeof window.floorStart === 'function'",
            PAGE_LOAD_TIMEOUT,
            "the floor page's script",
        )
        .await;
    Ok(())
}

/// Runs one floor call on the open floor page: the time from starting it (as the app's time
/// runs from the Call click) until both remote videos show a newly decoded frame.
pub async fn time_floor_call(person: &Person) -> anyhow::Result<Duration> {
    let started = Instant::now();
    person
        .execute("window.floorStart(); return true;", vec![])
        .await;
    let mut previous: [Option<VideoSample>; 2] = [None, None];
    let mut playing_at: [Option<Duration>; 2] = [None, None];
    loop {
        let (a, b) = tokio::join!(
            person.video_sample(FLOOR_VIDEOS[0]),
            person.video_sample(FLOOR_VIDEOS[1])
        );
        for (side, sample) in [a, b].into_iter().enumerate() {
            if playing_at[side].is_some() {
                continue;
            }
            if let Some(now) = sample {
                if is_playing(previous[side], now) {
                    playing_at[side] = Some(started.elapsed());
                }
                previous[side] = Some(now);
            }
        }
        if let [Some(a), Some(b)] = playing_at {
            return Ok(a.max(b));
        }
        if started.elapsed() > VIDEO_TIMEOUT {
            let state = person
                .execute("return document.body.dataset.floorState;", vec![])
                .await;
            bail!("the floor call did not play within {VIDEO_TIMEOUT:?} (page state {state})");
        }
        tokio::time::sleep(FLOOR_SAMPLE_INTERVAL).await;
    }
}

/// Ends the floor call (closes both connections, stops every track).
pub async fn stop_floor_call(person: &Person) {
    person
        .execute("window.floorStop(); return true;", vec![])
        .await;
}

/// Median, minimum and maximum of some durations in milliseconds (`None` if there are none).
fn spread(durations: &[Duration]) -> Option<(f64, f64, f64)> {
    let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let median = crate::setup_steps::median(&mut ms)?;
    Some((median, ms[0], ms[ms.len() - 1]))
}

/// Prints the app's set-up times beside the floor's (measured in the same run) and the ratio
/// of their medians.
pub fn print_against_floor(app: &[Duration], floor: &[Duration]) {
    let (Some(app_spread), Some(floor_spread)) = (spread(app), spread(floor)) else {
        return;
    };
    println!();
    println!(
        "{:<22} {:>6} {:>10} {:>8} {:>8}",
        "set-up", "calls", "median", "min", "max"
    );
    for (name, calls, (median, min, max)) in [
        ("visavis (2 browsers)", app.len(), app_spread),
        ("in-page floor", floor.len(), floor_spread),
    ] {
        println!("{name:<22} {calls:>6} {median:>7.0} ms {min:>5.0} ms {max:>5.0} ms");
    }
    println!(
        "ratio of medians: {:.2}x the floor (target: at most 1.5x)",
        app_spread.0 / floor_spread.0
    );
}
