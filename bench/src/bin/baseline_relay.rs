//! The baseline: the least a relay of the visavis protocol can do on the same stack (actix-web,
//! actix-ws, Tokio). WebSocket in, the frame's text forwarded unchanged to the other socket of
//! the room. No validation, no limits, no heartbeat, no seat tokens, no metrics.
//!
//! `join` is answered `created` (first), or `joined` with `new_peer` to the first (second), or
//! `full`; every other text frame goes to the partner, if there is one. Usage:
//! `baseline-relay 127.0.0.1:PORT`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_ws::{Message, Session};
use futures_util::StreamExt;

/// Every room's sockets, by room name: the simplest shared state a relay can have.
type Rooms = Arc<Mutex<HashMap<String, Vec<(u64, Session)>>>>;

/// Ids to tell a room's two sockets apart.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let rooms: Rooms = Arc::default();
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(rooms.clone()))
            .route("/ws", web::get().to(websocket))
    })
    // As visavis does: without it, a second small write waits for the peer's delayed ACK.
    .tcp_nodelay(true)
    .bind(address)?
    .run()
    .await
}

async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    rooms: web::Data<Rooms>,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(run_socket(session, stream, rooms.get_ref().clone()));
    Ok(response)
}

async fn run_socket(mut session: Session, mut stream: actix_ws::MessageStream, rooms: Rooms) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut room: Option<String> = None;
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => {
                if room.is_none() && text.starts_with(r#"{"type":"join""#) {
                    room = join(id, &text, &mut session, &rooms).await;
                    continue;
                }
                let partner = room.as_ref().and_then(|name| {
                    let rooms = rooms.lock().unwrap_or_else(|poison| poison.into_inner());
                    rooms.get(name).and_then(|seats| {
                        seats
                            .iter()
                            .find(|(other, _)| *other != id)
                            .map(|(_, session)| session.clone())
                    })
                });
                if let Some(mut partner) = partner {
                    let _ = partner.text(text).await;
                }
            }
            Message::Ping(bytes) => {
                let answered = session.pong(&bytes).await;
                if answered.is_err() {
                    break;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    if let Some(name) = room {
        let mut rooms = rooms.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(seats) = rooms.get_mut(&name) {
            seats.retain(|(other, _)| *other != id);
            if seats.is_empty() {
                rooms.remove(&name);
            }
        }
    }
    let _ = session.close(None).await;
}

/// Seats the socket and answers as visavis would; returns the room if it got a seat.
async fn join(id: u64, text: &str, session: &mut Session, rooms: &Rooms) -> Option<String> {
    let name = serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("room")?
        .as_str()?
        .to_owned();
    let (reply, first) = {
        let mut rooms = rooms.lock().unwrap_or_else(|poison| poison.into_inner());
        let seats = rooms.entry(name.clone()).or_default();
        match seats.len() {
            0 => {
                seats.push((id, session.clone()));
                ("created", None)
            }
            1 => {
                let first = seats[0].1.clone();
                seats.push((id, session.clone()));
                ("joined", Some(first))
            }
            _ => ("full", None),
        }
    };
    let frame = |kind: &str| serde_json::json!({"type": kind, "room": name}).to_string();
    let _ = session.text(frame(reply)).await;
    if let Some(mut first) = first {
        let _ = first.text(frame("new_peer")).await;
    }
    (reply != "full").then_some(name)
}
