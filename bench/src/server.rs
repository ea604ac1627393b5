//! The servers under test: started as child processes on a free loopback port, and read from
//! their own kernel accounting (`/proc/PID/stat` for CPU time, `/proc/PID/statm` for RSS).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Which server a figure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The real `visavis` binary.
    Visavis,
    /// The minimal relay of this crate (`baseline-relay`).
    Baseline,
}

impl Target {
    /// Both targets, in the order the table shows them.
    pub const ALL: [Target; 2] = [Target::Visavis, Target::Baseline];

    /// Whether the server greets each socket with a `config` message.
    pub fn sends_config(self) -> bool {
        self == Target::Visavis
    }
}

/// Where the two server binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub visavis: PathBuf,
    pub baseline: PathBuf,
}

/// A running server process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `target` on a free port and waits until it accepts connections.
    pub fn start(
        target: Target,
        binaries: &Binaries,
        shards: Option<usize>,
    ) -> anyhow::Result<ServerProcess> {
        ServerProcess::start_with(target, binaries, shards, &[])
    }

    /// Like [`ServerProcess::start`], with `extra` flags for visavis (cluster mode's).
    pub fn start_with(
        target: Target,
        binaries: &Binaries,
        shards: Option<usize>,
        extra: &[&str],
    ) -> anyhow::Result<ServerProcess> {
        let port = free_port()?;
        let dir = tempfile::tempdir()?;
        // A page to serve, so that `/readyz` can say ready (cluster mode waits on it).
        std::fs::write(dir.path().join("index.html"), "<html>bench</html>")?;
        let listen = format!("127.0.0.1:{port}");
        let mut command = match target {
            Target::Visavis => {
                let mut command = Command::new(&binaries.visavis);
                let dir_arg = dir.path().display().to_string();
                command.args([
                    "--no-tls",
                    "--listen",
                    &listen,
                    "--data-dir",
                    &dir_arg,
                    "--static-dir",
                    &dir_arg,
                    // The limits protect against clients; the benchmark is not one.
                    "--rate-limit-exempt-loopback",
                    "--messages-per-second",
                    "1000000",
                    "--message-burst",
                    "1000000",
                    "--max-connections",
                    "1000000",
                    "--max-rooms",
                    "1000000",
                ]);
                if let Some(shards) = shards {
                    command.args(["--hub-shards", &shards.to_string()]);
                }
                command.args(extra);
                command
            }
            Target::Baseline => {
                let mut command = Command::new(&binaries.baseline);
                command.arg(&listen);
                command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {target:?}"))?;
        let server = ServerProcess {
            child,
            port,
            _dir: dir,
        };
        server.wait_until_listening()?;
        Ok(server)
    }

    fn wait_until_listening(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "the server did not listen on port {} within 20 s",
            self.port
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU time of all the server's threads so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        process_cpu_time(self.pid())
    }

    /// Resident memory now, in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid()))?;
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .context("statm has no resident field")?
            .parse()?;
        Ok(pages * page_size())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process, from `/proc/PID/stat`.
pub fn process_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces; fields after it are
    // plain. utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks() as f64,
    ))
}

/// This process's own CPU time (the load generator's), from getrusage.
pub fn own_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).unwrap_or(100).max(1)
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096).max(1)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds (and, when run through cargo, first builds) the two binaries next to this one.
pub fn locate_binaries(visavis: Option<PathBuf>) -> anyhow::Result<Binaries> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the bench binary has no directory")?;
    // Integration tests run from target/<profile>/deps.
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let release = dir.ends_with("release");
    if visavis.is_none() {
        if let Ok(cargo) = std::env::var("CARGO") {
            build(&cargo, release)?;
        }
    }
    let binaries = Binaries {
        visavis: visavis.unwrap_or_else(|| dir.join("visavis")),
        baseline: dir.join("baseline-relay"),
    };
    for path in [&binaries.visavis, &binaries.baseline] {
        if !path.exists() {
            bail!(
                "{} is missing; build it with `cargo build {}-p visavis -p visavis-bench`",
                path.display(),
                if release { "--release " } else { "" }
            );
        }
    }
    Ok(binaries)
}

fn build(cargo: &str, release: bool) -> anyhow::Result<()> {
    let mut command = Command::new(cargo);
    command.args(["build", "-p", "visavis", "-p", "visavis-bench", "--bins"]);
    if release {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(())
}

/// The binary a path names, for the report.
pub fn describe(path: &Path) -> String {
    path.display().to_string()
}
