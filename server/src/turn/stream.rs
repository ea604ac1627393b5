//! TURN over TCP and TLS for the `turn` crate, which only reads and writes datagrams: a
//! [`StreamConn`] looks like one UDP socket to it, while underneath it accepts TCP (or TLS)
//! connections, cuts each byte stream into STUN/ChannelData frames ([`super::framing`]) and
//! sends replies back down the connection they belong to, found by the client's address.
//!
//! Every connection owns bounded queues both ways, so a slow or hostile client can fill only
//! its own; one that is silent, idle or sends garbage is closed, and its allocations with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use webrtc_util::Conn;

use super::admission::{Admission, Admitted};
use super::framing::{self, FrameError};
use super::metrics::{Transport, TurnMetrics};

/// How long a new connection may take to complete its TLS handshake and send its first
/// complete message. Browsers send an Allocate request at once.
pub const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection without a live allocation may stay quiet (nothing received) before
/// it is closed.
pub const UNALLOCATED_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection with an allocation may stay quiet. Permissions last 300 s (RFC 8656
/// §9) and only a message from the client renews them, so a client quiet for longer can relay
/// nothing anyway; 30 s of slack covers a late refresh.
pub const ALLOCATED_IDLE_TIMEOUT: Duration = Duration::from_secs(330);

/// How long one write to a client may block before the client counts as not reading.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages queued toward one client at most (about a second of video); more are dropped,
/// as a congested UDP path would drop them.
pub const OUTBOUND_QUEUE_MESSAGES: usize = 128;

/// Messages from one client waiting for the `turn` server at most; while they wait, that
/// client's connection is not read (TCP pushes back on it, not on anyone else).
pub const INBOUND_QUEUE_MESSAGES: usize = 8;

/// The timeouts of one stream listener; [`StreamTimeouts::default`] uses the constants above.
#[derive(Debug, Clone, Copy)]
pub struct StreamTimeouts {
    /// See [`FIRST_MESSAGE_TIMEOUT`] (the TLS handshake and the first message each get it).
    pub first_message: Duration,
    /// See [`UNALLOCATED_IDLE_TIMEOUT`].
    pub unallocated_idle: Duration,
    /// See [`ALLOCATED_IDLE_TIMEOUT`].
    pub allocated_idle: Duration,
    /// See [`WRITE_STALL_TIMEOUT`].
    pub write_stall: Duration,
}

impl Default for StreamTimeouts {
    fn default() -> Self {
        StreamTimeouts {
            first_message: FIRST_MESSAGE_TIMEOUT,
            unallocated_idle: UNALLOCATED_IDLE_TIMEOUT,
            allocated_idle: ALLOCATED_IDLE_TIMEOUT,
            write_stall: WRITE_STALL_TIMEOUT,
        }
    }
}

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How often the per-IP rate table is swept.
const ADMISSION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// One frame from a client, holding one of its inbound slots until the server takes it.
struct Inbound {
    from: SocketAddr,
    frame: Vec<u8>,
    _slot: OwnedSemaphorePermit,
}

/// What the rest of the relay may know about one connected client.
pub struct ClientHandle {
    outbound: mpsc::Sender<Vec<u8>>,
    closed: watch::Receiver<()>,
    allocations: AtomicUsize,
}

impl ClientHandle {
    /// Resolves once the connection has ended.
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        // `changed` fails once the connection task dropped its sender.
        while closed.changed().await.is_ok() {}
    }

    /// Notes an allocation on this connection (it then gets the longer idle timeout).
    pub fn allocation_opened(&self) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes that an allocation on this connection ended.
    pub fn allocation_closed(&self) {
        let _ = self
            .allocations
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    fn idle_timeout(&self, timeouts: &StreamTimeouts) -> Duration {
        if self.allocations.load(Ordering::Relaxed) > 0 {
            timeouts.allocated_idle
        } else {
            timeouts.unallocated_idle
        }
    }
}

type Clients = Mutex<HashMap<SocketAddr, Arc<ClientHandle>>>;

/// A TCP or TLS listener presented to the `turn` server as one datagram socket.
pub struct StreamConn {
    transport: Transport,
    local_addr: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::UnboundedReceiver<Inbound>>,
    clients: Arc<Clients>,
    metrics: TurnMetrics,
}

/// The running accept loop of a [`StreamConn`].
pub struct StreamListener {
    /// The conn to hand to the `turn` server.
    pub conn: Arc<StreamConn>,
    shutdown: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
}

/// Everything a connection task needs.
struct Shared {
    transport: Transport,
    timeouts: StreamTimeouts,
    tls: Option<TlsAcceptor>,
    inbound: mpsc::UnboundedSender<Inbound>,
    clients: Arc<Clients>,
    admission: Arc<Admission>,
    metrics: TurnMetrics,
    shutdown: watch::Receiver<bool>,
}

impl StreamListener {
    /// Starts accepting on `listener`: plain TCP, or TLS when `tls` is given.
    pub fn spawn(
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        timeouts: StreamTimeouts,
        admission: Arc<Admission>,
        metrics: TurnMetrics,
    ) -> std::io::Result<StreamListener> {
        let local_addr = listener.local_addr()?;
        let transport = if tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        };
        let (inbound_tx, inbound_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let clients = Arc::new(Mutex::new(HashMap::new()));
        let shared = Arc::new(Shared {
            transport,
            timeouts,
            tls,
            inbound: inbound_tx,
            clients: clients.clone(),
            admission,
            metrics: metrics.clone(),
            shutdown: shutdown_rx,
        });
        let accept_loop = tokio::spawn(accept_loop(listener, shared));
        Ok(StreamListener {
            conn: Arc::new(StreamConn {
                transport,
                local_addr,
                inbound: tokio::sync::Mutex::new(inbound_rx),
                clients,
                metrics,
            }),
            shutdown: shutdown_tx,
            accept_loop,
        })
    }

    /// Stops accepting, ends every connection, and waits until the port is free.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept_loop.await;
    }
}

impl StreamConn {
    /// The connection from `addr`, while it is open.
    pub fn client(&self, addr: SocketAddr) -> Option<Arc<ClientHandle>> {
        lock(&self.clients).get(&addr).cloned()
    }

    /// How many clients are connected now.
    pub fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }
}

fn lock(clients: &Clients) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<ClientHandle>>> {
    clients.lock().unwrap_or_else(|poison| poison.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut sweep = tokio::time::interval(ADMISSION_SWEEP_INTERVAL);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = sweep.tick() => {
                shared.admission.forget_idle();
                // Reap finished connection tasks so the set does not grow.
                while connections.try_join_next().is_some() {}
                continue;
            }
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, transport = %shared.transport, "accepting a TURN connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let admitted = match shared.admission.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                shared
                    .metrics
                    .connections_refused
                    .with_label_values(&[refusal.as_str()])
                    .inc();
                tracing::debug!(reason = refusal.as_str(), "refused a TURN connection");
                continue;
            }
        };
        // Small TURN messages (checks, refreshes) should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(stream, peer, shared.clone(), admitted));
    }
    drop(listener);
    // Connections see the same shutdown signal; wait so that stopping is complete.
    while connections.join_next().await.is_some() {}
}

/// One accepted connection: TLS handshake if needed, then serving frames until it ends.
async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, admitted: Admitted) {
    let _admitted = admitted;
    let reason = match &shared.tls {
        None => serve(stream, peer, &shared).await,
        Some(acceptor) => {
            match tokio::time::timeout(shared.timeouts.first_message, acceptor.accept(stream)).await
            {
                Ok(Ok(tls)) => serve(tls, peer, &shared).await,
                Ok(Err(_)) | Err(_) => {
                    shared
                        .metrics
                        .connections_refused
                        .with_label_values(&["handshake"])
                        .inc();
                    return;
                }
            }
        }
    };
    shared
        .metrics
        .connections_closed
        .with_label_values(&[reason])
        .inc();
    tracing::debug!(transport = %shared.transport, reason, "TURN connection ended");
}

/// Serves one connection until it ends, and says why it ended.
async fn serve<S: AsyncRead + AsyncWrite + Send>(
    stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> &'static str {
    let (reader, writer) = tokio::io::split(stream);
    let (outbound_tx, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE_MESSAGES);
    let (closed_tx, closed_rx) = watch::channel(());
    let handle = Arc::new(ClientHandle {
        outbound: outbound_tx,
        closed: closed_rx,
        allocations: AtomicUsize::new(0),
    });
    if lock(&shared.clients).insert(peer, handle.clone()).is_some() {
        // Cannot happen with one listener (the OS never hands out one address twice at once);
        // the old entry's connection ends on its own.
        tracing::warn!(transport = %shared.transport, "a TURN client address was reused while connected");
    }
    let gauge = shared
        .metrics
        .connections
        .with_label_values(&[shared.transport.as_str()]);
    gauge.inc();

    let mut shutdown = shared.shutdown.clone();
    let reason = tokio::select! {
        reason = read_frames(reader, peer, &handle, shared) => reason,
        reason = write_frames(writer, outbound_rx, shared.timeouts.write_stall) => reason,
        _ = shutdown.wait_for(|stop| *stop) => "shutdown",
    };

    gauge.dec();
    {
        let mut clients = lock(&shared.clients);
        if clients
            .get(&peer)
            .is_some_and(|current| Arc::ptr_eq(current, &handle))
        {
            clients.remove(&peer);
        }
    }
    // Tells this connection's allocations that their client is gone.
    drop(closed_tx);
    reason
}

async fn read_frames<R: AsyncRead>(
    reader: R,
    peer: SocketAddr,
    handle: &ClientHandle,
    shared: &Shared,
) -> &'static str {
    let mut reader = std::pin::pin!(reader);
    let slots = Arc::new(Semaphore::new(INBOUND_QUEUE_MESSAGES));
    let mut first = true;
    loop {
        // Wait for a free slot before reading, so a client outpacing the server is slowed
        // down by TCP flow control rather than buffered.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return "closed";
        };
        let timeout = if first {
            shared.timeouts.first_message
        } else {
            handle.idle_timeout(&shared.timeouts)
        };
        let mut frame = Vec::new();
        match tokio::time::timeout(timeout, framing::read_frame(&mut reader, &mut frame)).await {
            Err(_) if first => return "silent",
            Err(_) => return "idle",
            Ok(Err(err)) => {
                return match err {
                    FrameError::Closed => "closed",
                    FrameError::Garbage => "garbage",
                    FrameError::TooLarge => "too_large",
                }
            }
            Ok(Ok(())) => {}
        }
        first = false;
        let inbound = Inbound {
            from: peer,
            frame,
            _slot: slot,
        };
        if shared.inbound.send(inbound).is_err() {
            return "shutdown";
        }
    }
}

async fn write_frames<W: AsyncWrite>(
    writer: W,
    mut outbound: mpsc::Receiver<Vec<u8>>,
    write_stall: Duration,
) -> &'static str {
    let mut writer = std::pin::pin!(writer);
    while let Some(frame) = outbound.recv().await {
        let write = async {
            writer.write_all(&frame).await?;
            // Flush only when the queue is drained: TLS then packs queued messages into
            // fewer records.
            if outbound.is_empty() {
                writer.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        match tokio::time::timeout(write_stall, write).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return "closed",
            Err(_) => return "write_stall",
        }
    }
    "closed"
}

#[async_trait]
impl Conn for StreamConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "a TURN stream listener does not connect".to_owned(),
        ))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut inbound = self.inbound.lock().await;
        let Some(message) = inbound.recv().await else {
            return Err(webrtc_util::Error::Other(
                "the TURN stream listener stopped".to_owned(),
            ));
        };
        // Frames are at most MAX_FRAME_BYTES, the size of the crate's buffer.
        let n = message.frame.len().min(buf.len());
        buf[..n].copy_from_slice(&message.frame[..n]);
        Ok((n, message.from))
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other(
            "a TURN stream listener sends only to a client address".to_owned(),
        ))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let Some(client) = self.client(target) else {
            return Err(webrtc_util::Error::Other(
                "no TURN connection from that address".to_owned(),
            ));
        };
        // Never wait here: this is called from the server's one read loop and from relay
        // tasks, which must not stall because one client reads slowly.
        if client.outbound.try_send(framing::for_stream(buf)).is_err() {
            self.metrics
                .dropped_messages
                .with_label_values(&[self.transport.as_str()])
                .inc();
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local_addr)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        // The crate closes the "socket" whenever an allocation closes; the listener lives on
        // and is stopped through `StreamListener::stop`.
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
