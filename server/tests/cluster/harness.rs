//! The cluster under test: a Redis of its own on a free loopback port (stoppable and
//! restartable, nothing saved), and visavis nodes as real child processes of the built binary,
//! sharing one seat secret, each killable with SIGKILL.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::{sleep, Instant};

use crate::helpers::{sample_sdp, TestClient};

/// The bearer token of every node's `/metrics`.
pub const METRICS_TOKEN: &str = "cluster-test";

/// How long a node or Redis may take to come up.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A Redis server owned by the test.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts `redis-server` (from the distribution; the test fails if it is missing) on a
    /// free loopback port, with persistence off.
    pub async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.start_again().await;
        redis
    }

    /// Starts it again on the same port, empty.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/setup.sh does)");
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis did not answer within {START_LIMIT:?}"
            );
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops it at once (SIGKILL): every connection to it breaks, its data is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The URL nodes use.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One visavis node, a child process.
pub struct Node {
    pub id: String,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process has not been killed.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `/readyz`: its status code and body.
    pub async fn readyz(&self) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/readyz", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("GET /readyz gets an answer");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Waits until `/readyz` answers `status`.
    pub async fn wait_ready(&self, status: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(response) = reqwest::Client::new()
                .get(format!("http://127.0.0.1:{}/readyz", self.port))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                if response.status().as_u16() == status {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {}: /readyz did not answer {status} within {limit:?}",
                self.id
            );
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// The node's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .bearer_auth(METRICS_TOKEN)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("GET /metrics gets an answer")
            .text()
            .await
            .expect("a metrics body")
    }

    /// One series of the node's `/metrics` (name plus labels, as printed); 0 if absent.
    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics()
            .await
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn tail_of_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis plus some nodes, sharing a seat secret.
pub struct Cluster {
    pub redis: Redis,
    pub nodes: Vec<Node>,
    dir: TempDir,
}

impl Cluster {
    /// Redis and `count` nodes, each ready (Redis connected).
    pub async fn start(count: usize) -> Cluster {
        Cluster::start_with(count, |_| Vec::new()).await
    }

    /// Like [`Cluster::start`], node `index` also getting the flags `extra(index)`.
    pub async fn start_with(count: usize, extra: impl Fn(usize) -> Vec<String>) -> Cluster {
        let redis = Redis::start().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("index.html"), "<html>cluster test</html>")
            .expect("index.html is written");
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
            .collect();
        std::fs::write(dir.path().join("seat-secret"), format!("{secret}\n"))
            .expect("the shared secret is written");
        let mut cluster = Cluster {
            redis,
            nodes: Vec::new(),
            dir,
        };
        for index in 0..count {
            let node = cluster.spawn_node(&format!("n{index}"), &extra(index));
            cluster.nodes.push(node);
        }
        for node in &cluster.nodes {
            node.wait_ready(200, START_LIMIT).await;
        }
        cluster
    }

    /// Starts one more node process with `extra` flags (not waiting for it).
    fn spawn_node(&self, id: &str, extra: &[String]) -> Node {
        let port = free_port();
        let dir = self.dir.path();
        let data = dir.join(format!("data-{id}"));
        let log = dir.join(format!("{id}.log"));
        let out = std::fs::File::create(&log).expect("a log file");
        let err = out.try_clone().expect("a second handle on the log");
        let child = Command::new(env!("CARGO_BIN_EXE_visavis"))
            .args(["--no-tls", "--rate-limit-exempt-loopback"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--static-dir", &path(dir)])
            .args(["--data-dir", &path(&data)])
            .args(["--seat-secret-file", &path(&dir.join("seat-secret"))])
            .args(["--redis-url", &self.redis.url(), "--node-id", id])
            .args(["--metrics-token", METRICS_TOKEN, "--hub-shards", "2"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the visavis binary starts");
        Node {
            id: id.to_owned(),
            port,
            child: Some(child),
            log,
        }
    }

    /// The port of node `index`.
    pub fn port(&self, index: usize) -> u16 {
        self.nodes[index].port
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!("---- log of node {} ----\n{}", node.id, node.tail_of_log());
            }
        }
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

/// The `rejoined` answer (its seat token left out, see `without_seat`).
pub fn rejoined(room: &str, peer_present: bool) -> serde_json::Value {
    serde_json::json!({"type": "rejoined", "room": room, "peer_present": peer_present})
}

/// An offer from `a` reaches `b`, and the answer from `b` reaches `a`, unchanged.
pub async fn check_relay(a: &mut TestClient, b: &mut TestClient) {
    let invite = serde_json::json!({"type": "invite", "sdp": sample_sdp("again")});
    a.send_json(invite.clone()).await;
    assert_eq!(b.recv_json().await, invite);
    let ok = serde_json::json!({"type": "ok", "sdp": sample_sdp("again-answer")});
    b.send_json(ok.clone()).await;
    assert_eq!(a.recv_json().await, ok);
}
