//! A benchmark client: a real WebSocket over TCP, optionally from a chosen loopback address,
//! and the few protocol steps the benchmarks need (wait for `config`, join, wait for a type).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::server::Target;

/// One client socket.
pub type Socket = WebSocketStream<TcpStream>;

/// How long any single protocol step may take before the benchmark gives up.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a WebSocket to `port` from `source` (any 127.0.0.0/8 address), and for visavis waits
/// for its greeting `config`, so that the server has finished setting the socket up.
pub async fn connect(target: Target, port: u16, source: Ipv4Addr) -> anyhow::Result<Socket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let tcp = socket
        .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .context("connecting")?;
    // Signaling is small messages, one at a time: Nagle would only add delay.
    tcp.set_nodelay(true)?;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::client_async(url, tcp))
        .await
        .context("handshake timed out")??;
    if target.sends_config() {
        wait_for(&mut ws, "config").await?;
    }
    Ok(ws)
}

/// Sends `join` for `room` and returns the type of the answer (`created`, `joined`, `full`).
pub async fn join(ws: &mut Socket, room: &str) -> anyhow::Result<String> {
    let frame = format!(r#"{{"type":"join","room":"{room}"}}"#);
    ws.send(Message::text(frame)).await?;
    loop {
        let kind = next_kind(ws).await?;
        if matches!(kind.as_str(), "created" | "joined" | "full" | "error") {
            return Ok(kind);
        }
    }
}

/// Reads until a message of type `kind` arrives.
pub async fn wait_for(ws: &mut Socket, kind: &str) -> anyhow::Result<()> {
    loop {
        if next_kind(ws).await? == kind {
            return Ok(());
        }
    }
}

/// The `type` of the next text message.
async fn next_kind(ws: &mut Socket) -> anyhow::Result<String> {
    loop {
        let message = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .context("no message within the step timeout")?
            .context("the server closed the socket")??;
        if let Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(text.as_str())?;
            match value.get("type").and_then(|kind| kind.as_str()) {
                Some(kind) => return Ok(kind.to_owned()),
                None => bail!("a message without a type"),
            }
        }
    }
}

/// Seats two fresh sockets in `room`: the first gets `created`, the second `joined`, and the
/// first `new_peer`.
pub async fn seated_pair(
    target: Target,
    port: u16,
    room: &str,
    source: Ipv4Addr,
) -> anyhow::Result<(Socket, Socket)> {
    let mut first = connect(target, port, source).await?;
    let mut second = connect(target, port, source).await?;
    let answer = join(&mut first, room).await?;
    if answer != "created" {
        bail!("the first join of {room} got {answer}");
    }
    let answer = join(&mut second, room).await?;
    if answer != "joined" {
        bail!("the second join of {room} got {answer}");
    }
    wait_for(&mut first, "new_peer").await?;
    Ok((first, second))
}

/// The `i`-th of `count` loopback source addresses (127.0.0.1, 127.0.0.2, ...): each gives
/// about 28 000 ephemeral ports towards one server port.
pub fn source_address(i: usize, count: usize) -> Ipv4Addr {
    let n = (i % count.max(1)) as u32 + 1;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 0)) + n)
}
