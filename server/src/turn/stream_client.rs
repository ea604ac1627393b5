//! A TURN client's side of a byte stream, for tests and tools: the `turn` crate's client speaks
//! datagrams through a `Conn`, and [`FramedConn`] frames them onto a TCP or TLS stream (RFC 8656
//! framing, as the relay's [`super::stream`] expects).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;
use webrtc_util::Conn;

use crate::turn::framing;

/// One stream to the relay, as a datagram socket whose only peer is the relay.
pub struct FramedConn<S> {
    reader: Mutex<ReadHalf<S>>,
    writer: Mutex<WriteHalf<S>>,
    local: SocketAddr,
    server: SocketAddr,
    paused: AtomicBool,
}

/// Connects over plain TCP.
pub async fn tcp(server: SocketAddr) -> std::io::Result<FramedConn<TcpStream>> {
    let stream = TcpStream::connect(server).await?;
    let local = stream.local_addr()?;
    Ok(FramedConn::new(stream, local, server))
}

/// Connects over TLS, trusting `ca` (DER) for the name `host` (also sent as SNI).
pub async fn tls(
    server: SocketAddr,
    host: &str,
    ca: rustls::pki_types::CertificateDer<'static>,
) -> std::io::Result<FramedConn<tokio_rustls::client::TlsStream<TcpStream>>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|err| std::io::Error::other(err.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| std::io::Error::other(err.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let stream = TcpStream::connect(server).await?;
    let local = stream.local_addr()?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|err| std::io::Error::other(err.to_string()))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await?;
    Ok(FramedConn::new(tls, local, server))
}

impl<S: AsyncRead + AsyncWrite> FramedConn<S> {
    fn new(stream: S, local: SocketAddr, server: SocketAddr) -> FramedConn<S> {
        let (reader, writer) = tokio::io::split(stream);
        FramedConn {
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            local,
            server,
            paused: AtomicBool::new(false),
        }
    }

    /// Stops reading after the frame being read now: the client turns into one that never
    /// reads, while its connection stays open.
    pub fn pause_reading(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl<S> Conn for FramedConn<S>
where
    S: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static,
{
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        if self.paused.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let mut reader = self.reader.lock().await;
        let mut frame = Vec::new();
        framing::read_frame(&mut *reader, &mut frame)
            .await
            .map_err(|err| webrtc_util::Error::Other(format!("stream ended: {err}")))?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Ok((n, self.server))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.send_to(buf, self.server).await
    }

    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        let mut writer = self.writer.lock().await;
        writer.write_all(&framing::for_stream(buf)).await?;
        writer.flush().await?;
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        let _ = self.writer.lock().await.shutdown().await;
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
