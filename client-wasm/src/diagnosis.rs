//! Connectivity diagnosis: which kinds of ICE candidate were gathered, which STUN/TURN errors
//! the browser reported, and what that means for a call (end a relay-only attempt, hint that a
//! TURN server is needed) and for the rows of the `/check` page. Pure Rust with no browser
//! types, so every decision is unit-tested natively.

use visavis_shared::IceServer;

use crate::link::IcePolicy;

/// The kind of a local ICE candidate, read from the `typ` field of its `candidate:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    /// An address of one of this device's network interfaces (possibly hidden as `.local`).
    Host,
    /// The public address a STUN (or TURN) server saw, on the far side of a NAT.
    ServerReflexive,
    /// An address learned from the other peer's connectivity checks.
    PeerReflexive,
    /// An address on a TURN relay.
    Relay,
}

impl CandidateType {
    /// Reads the type from a candidate attribute line such as
    /// `candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host generation 0`.
    /// `None` for an empty line (the end-of-candidates marker) or an unknown type.
    pub fn from_candidate_line(line: &str) -> Option<CandidateType> {
        let mut words = line.split_ascii_whitespace();
        // `typ` is a keyword followed by its value; searching for the pair (not a bare "relay")
        // keeps a hostname or extension that happens to say "relay" from fooling us.
        while let Some(word) = words.next() {
            if word == "typ" {
                return match words.next()? {
                    "host" => Some(CandidateType::Host),
                    "srflx" => Some(CandidateType::ServerReflexive),
                    "prflx" => Some(CandidateType::PeerReflexive),
                    "relay" => Some(CandidateType::Relay),
                    _ => None,
                };
            }
        }
        None
    }
}

/// The set of candidate types seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateSet {
    host: bool,
    srflx: bool,
    prflx: bool,
    relay: bool,
}

impl CandidateSet {
    /// Records one gathered candidate.
    pub fn add(&mut self, kind: CandidateType) {
        match kind {
            CandidateType::Host => self.host = true,
            CandidateType::ServerReflexive => self.srflx = true,
            CandidateType::PeerReflexive => self.prflx = true,
            CandidateType::Relay => self.relay = true,
        }
    }

    /// Whether a candidate of `kind` was gathered.
    pub fn has(&self, kind: CandidateType) -> bool {
        match kind {
            CandidateType::Host => self.host,
            CandidateType::ServerReflexive => self.srflx,
            CandidateType::PeerReflexive => self.prflx,
            CandidateType::Relay => self.relay,
        }
    }
}

/// An `icecandidateerror` event, reduced to what the diagnosis needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceErrorReport {
    /// The STUN or TURN URL the error is about.
    pub url: String,
    /// The STUN error code (401 unauthorised…) or a browser code (701: no answer).
    pub code: u16,
    /// The reason phrase, possibly empty.
    pub text: String,
}

/// TURN error codes that mean "the relay answered but would not give us an allocation with
/// these credentials": Bad Request, Unauthorized, Forbidden, Integrity Check Failure.
const REFUSAL_CODES: [u16; 4] = [400, 401, 403, 431];

impl IceErrorReport {
    /// Whether the error comes from a `turn:` or `turns:` URL.
    pub fn is_turn(&self) -> bool {
        is_turn_url(&self.url)
    }

    /// Whether the error comes from a `stun:` or `stuns:` URL.
    pub fn is_stun(&self) -> bool {
        has_scheme(&self.url, &["stun:", "stuns:"])
    }

    /// Whether a TURN server refused our credentials or the allocation.
    pub fn is_turn_refusal(&self) -> bool {
        self.is_turn() && REFUSAL_CODES.contains(&self.code)
    }

    /// `401: Unauthorized`, or just `401` without a reason phrase.
    fn code_and_text(&self) -> String {
        // Browsers' reason phrases may end with a full stop; ours follows the parenthesis.
        let text = self.text.trim().trim_end_matches('.');
        if text.is_empty() {
            self.code.to_string()
        } else {
            format!("{}: {text}", self.code)
        }
    }
}

fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    let url = url.trim_start();
    schemes.iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    })
}

/// Whether `url` names a TURN server.
pub fn is_turn_url(url: &str) -> bool {
    has_scheme(url, &["turn:", "turns:"])
}

/// Which kinds of server the `config` message offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerKinds {
    /// At least one `stun:`/`stuns:` URL.
    pub stun: bool,
    /// At least one `turn:`/`turns:` URL.
    pub turn: bool,
}

impl ServerKinds {
    /// Looks at every URL of every server.
    pub fn of(servers: &[IceServer]) -> ServerKinds {
        let urls = || servers.iter().flat_map(|server| server.urls.iter());
        ServerKinds {
            stun: urls().any(|url| has_scheme(url, &["stun:", "stuns:"])),
            turn: urls().any(|url| is_turn_url(url)),
        }
    }
}

/// A connectivity problem that ends a call attempt, explained in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceProblem {
    /// Relay-only mode, and the TURN server refused the credentials (error `code`).
    RelayRefused {
        /// The TURN error code (400, 401, 403 or 431).
        code: u16,
    },
    /// Relay-only mode, and no relay candidate could be gathered.
    NoRelay,
    /// Relay-only mode, but the server hands out no TURN server at all.
    NoRelayConfigured,
    /// The connection failed and no relay candidate was ever gathered: the two networks
    /// probably cannot reach each other without a TURN relay.
    NeedsTurn,
}

impl IceProblem {
    /// The sentence for the status line.
    pub fn text(self) -> String {
        match self {
            IceProblem::RelayRefused { code } => format!(
                "The relay server refused the credentials (TURN error {code}). Ask the operator \
                 to check the TURN secret."
            ),
            IceProblem::NoRelay => "No relay (TURN) server could be reached.".into(),
            IceProblem::NoRelayConfigured => {
                "This server offers no relay (TURN) server, so a relay-only call cannot work."
                    .into()
            }
            IceProblem::NeedsTurn => "No connection to the other person could be made. Your \
                                      networks probably need a relay (TURN) server, and none \
                                      could be used."
                .into(),
        }
    }
}

/// What one call attempt has learnt about ICE, to decide whether it should end early.
#[derive(Debug, Clone, Default)]
pub struct IceWatch {
    relay_only: bool,
    turn_configured: bool,
    gathered: CandidateSet,
    /// Whether any local candidate at all was gathered, including one of an unknown type.
    any_candidate: bool,
    /// The first refusal from a TURN server, if any.
    refusal: Option<u16>,
    gathering_done: bool,
    /// The relay-only grace period ran out.
    waited_enough: bool,
    /// The peer connection was connected at least once.
    connected: bool,
}

impl IceWatch {
    /// A watch for a call made with `policy` and `servers`.
    pub fn new(policy: IcePolicy, servers: &[IceServer]) -> IceWatch {
        IceWatch {
            relay_only: policy == IcePolicy::Relay,
            turn_configured: ServerKinds::of(servers).turn,
            ..IceWatch::default()
        }
    }

    /// A local candidate was gathered; `kind` is `None` when its type could not be read.
    pub fn candidate(&mut self, kind: Option<CandidateType>) {
        self.any_candidate = true;
        if let Some(kind) = kind {
            self.gathered.add(kind);
        }
    }

    /// Gathering finished (the `complete` state or the end-of-candidates marker).
    pub fn gathering_complete(&mut self) {
        self.gathering_done = true;
    }

    /// The browser reported a candidate error.
    pub fn ice_error(&mut self, error: &IceErrorReport) {
        if error.is_turn_refusal() && self.refusal.is_none() {
            self.refusal = Some(error.code);
        }
    }

    /// The relay-only grace period ran out without the call connecting.
    pub fn waited_enough(&mut self) {
        self.waited_enough = true;
    }

    /// The peer connection became connected.
    pub fn connected(&mut self) {
        self.connected = true;
    }

    /// Whether the peer connection was ever connected.
    pub fn was_connected(&self) -> bool {
        self.connected
    }

    /// Whether a relay candidate was gathered.
    pub fn has_relay(&self) -> bool {
        self.gathered.has(CandidateType::Relay)
    }

    /// The reason to give up on the attempt now, if there is one: in relay-only mode, no
    /// relay; in any mode, gathering ended without a single local candidate (UDP blocked by a
    /// policy, say), so no connection is possible and the browser might never say `failed`.
    /// A call that got a relay candidate, or that connected, is never ended from here.
    pub fn abort_reason(&self) -> Option<IceProblem> {
        if self.connected || self.has_relay() {
            return None;
        }
        if !self.relay_only {
            return (self.gathering_done && !self.any_candidate).then_some(IceProblem::NeedsTurn);
        }
        if !self.turn_configured {
            return Some(IceProblem::NoRelayConfigured);
        }
        if let Some(code) = self.refusal {
            // All TURN URLs share one set of credentials: one refusal means all would refuse.
            return Some(IceProblem::RelayRefused { code });
        }
        if self.gathering_done || self.waited_enough {
            return Some(IceProblem::NoRelay);
        }
        None
    }

    /// Why the connection failed, when the diagnosis can say more than "it failed": no relay
    /// candidate was ever gathered, so a TURN relay is probably what was missing.
    pub fn failure_reason(&self) -> Option<IceProblem> {
        if self.has_relay() {
            return None;
        }
        if self.relay_only {
            // Whatever the gathering state, a relay-only call without a relay cannot work.
            return Some(self.abort_reason().unwrap_or(IceProblem::NoRelay));
        }
        Some(IceProblem::NeedsTurn)
    }
}

/// The result of one row of the check page, published as its `data-result` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckResult {
    /// Still being tested.
    #[default]
    Pending,
    /// Works.
    Ok,
    /// Does not work.
    Fail,
    /// Not tested, because nothing is configured for it (or the mode excludes it).
    Skipped,
}

impl CheckResult {
    /// The `data-result` value, a contract with automated tests.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pending => "pending",
            CheckResult::Ok => "ok",
            CheckResult::Fail => "fail",
            CheckResult::Skipped => "skipped",
        }
    }

    /// The short badge text.
    pub fn label(self) -> &'static str {
        match self {
            CheckResult::Pending => "Checking…",
            CheckResult::Ok => "Works",
            CheckResult::Fail => "Problem",
            CheckResult::Skipped => "Not tested",
        }
    }

    /// Whether the result will not change any more.
    pub fn is_final(self) -> bool {
        self != CheckResult::Pending
    }
}

/// One row's outcome: the result and a sentence explaining it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// The result.
    pub result: CheckResult,
    /// The explanation shown under the row's heading.
    pub text: String,
}

impl Row {
    fn new(result: CheckResult, text: impl Into<String>) -> Row {
        Row {
            result,
            text: text.into(),
        }
    }

    /// A row that is still being tested.
    pub fn pending(text: impl Into<String>) -> Row {
        Row::new(CheckResult::Pending, text)
    }
}

const NOT_REACHED: &str = "Not tested: the visavis server could not be reached to get its \
                           STUN and TURN settings. Check your internet connection and reload.";

/// The network half of the check page: what was configured and gathered, turned into rows.
#[derive(Debug, Clone, Default)]
pub struct NetworkCheck {
    relay_only: bool,
    /// The kinds of server offered; `None` until `config` arrives (or the server is lost).
    servers: Option<ServerKinds>,
    server_unreachable: bool,
    gathered: CandidateSet,
    /// The most telling TURN error: a refusal wins over any other error.
    turn_error: Option<IceErrorReport>,
    stun_error: Option<IceErrorReport>,
    finished: bool,
    /// Why the browser could not run the test at all (no peer connection, no offer).
    broken: Option<String>,
}

impl NetworkCheck {
    /// A check run with `policy`.
    pub fn new(policy: IcePolicy) -> NetworkCheck {
        NetworkCheck {
            relay_only: policy == IcePolicy::Relay,
            ..NetworkCheck::default()
        }
    }

    /// The server's `config` arrived with these ICE servers.
    pub fn configured(&mut self, servers: &[IceServer]) {
        self.servers = Some(ServerKinds::of(servers));
    }

    /// The server could not be reached, so no STUN or TURN server is known.
    pub fn server_unreachable(&mut self) {
        self.server_unreachable = true;
        self.servers = Some(ServerKinds::default());
    }

    /// A local candidate was gathered.
    pub fn candidate(&mut self, kind: CandidateType) {
        self.gathered.add(kind);
    }

    /// The browser reported a candidate error.
    pub fn ice_error(&mut self, error: IceErrorReport) {
        if error.is_turn() {
            let keep_old = self
                .turn_error
                .as_ref()
                .is_some_and(|old| old.is_turn_refusal() || !error.is_turn_refusal());
            if !keep_old {
                self.turn_error = Some(error);
            }
        } else if error.is_stun() && self.stun_error.is_none() {
            self.stun_error = Some(error);
        }
    }

    /// The browser could not run the test (it refused to create a peer connection or an
    /// offer); every network row fails with `reason`.
    pub fn broken(&mut self, reason: String) {
        self.broken = Some(reason);
        self.finished = true;
    }

    /// The failing row for a check the browser could not run.
    fn broken_row(&self) -> Option<Row> {
        self.broken.as_ref().map(|reason| {
            Row::new(
                CheckResult::Fail,
                format!(
                    "Your browser could not run the network test ({reason}). WebRTC may be \
                     disabled by a setting or an extension."
                ),
            )
        })
    }

    /// Gathering is over (complete, timed out, or impossible).
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Whether gathering is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The "Local network (host)" row.
    pub fn host(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::Host) {
            return Row::new(
                CheckResult::Ok,
                "Your browser found a local network address. (It may show up as a “.local” \
                 name: browsers hide local addresses that way, which is normal.)",
            );
        }
        if self.relay_only {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this check runs in relay-only mode (?ice=relay).",
            );
        }
        if !self.finished {
            return Row::pending("Looking for this device's network addresses…");
        }
        Row::new(
            CheckResult::Fail,
            "Your browser offered no local network address. A privacy setting or a browser \
             extension may be blocking WebRTC.",
        )
    }

    /// The "Public address via STUN (srflx)" row.
    pub fn srflx(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::ServerReflexive) {
            return Row::new(
                CheckResult::Ok,
                "A STUN server saw your public address, so direct calls across the internet \
                 can work.",
            );
        }
        if self.relay_only {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this check runs in relay-only mode (?ice=relay).",
            );
        }
        if self.server_unreachable {
            return Row::new(CheckResult::Fail, NOT_REACHED);
        }
        let Some(servers) = self.servers else {
            return Row::pending("Waiting for the server's settings…");
        };
        if !servers.stun {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this server configures no STUN server. That is fine on a local \
                 network or when a relay (TURN) server is available.",
            );
        }
        if !self.finished {
            return Row::pending("Asking the STUN server for your public address…");
        }
        let detail = self
            .stun_error
            .as_ref()
            .map(|e| format!(" (error {})", e.code_and_text()))
            .unwrap_or_default();
        Row::new(
            CheckResult::Fail,
            format!(
                "The STUN server gave no public address{detail}. Your network may block UDP \
                 traffic, or the STUN server is down. (A device with a public address of its \
                 own needs none, which is also shown this way.)"
            ),
        )
    }

    /// The "Relay via TURN (relay)" row.
    pub fn relay(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::Relay) {
            return Row::new(
                CheckResult::Ok,
                "The relay (TURN) server works: calls can go through it when a direct \
                 connection is impossible.",
            );
        }
        if self.server_unreachable {
            return Row::new(CheckResult::Fail, NOT_REACHED);
        }
        let Some(servers) = self.servers else {
            return Row::pending("Waiting for the server's settings…");
        };
        if !servers.turn {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this server configures no relay (TURN) server. Calls between \
                 some networks (strict firewalls, some mobile networks) may then fail.",
            );
        }
        if !self.finished {
            return Row::pending("Asking the TURN server for a relay address…");
        }
        let text = match &self.turn_error {
            Some(error) if error.is_turn_refusal() => format!(
                "The TURN server refused the credentials ({}). Ask the operator to check that \
                 visavis and the TURN server share the same secret.",
                error.code_and_text()
            ),
            Some(error) => format!(
                "The TURN server could not be used ({}). A firewall may block it, or it may be \
                 down.",
                error.code_and_text()
            ),
            None => "No relay candidate was gathered: the TURN server did not answer in time. \
                     A firewall may block it, or it may be down."
                .into(),
        };
        Row::new(CheckResult::Fail, text)
    }
}

/// Which device a media row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
}

impl Device {
    fn noun(self) -> &'static str {
        match self {
            Device::Camera => "camera",
            Device::Microphone => "microphone",
        }
    }
}

/// Why a device could not be opened: the DOM exception's `name` and a readable description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    /// `NotAllowedError`, `NotFoundError`…; `None` when the browser gave no name.
    pub name: Option<String>,
    /// The whole error, for the log and unknown cases.
    pub detail: String,
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The name [`DeviceError`] carries when the page has no `navigator.mediaDevices` at all.
pub const NO_MEDIA_DEVICES: &str = "NoMediaDevices";

/// The row for a device that was opened (`Ok`) or not (`Err`).
pub fn device_row(device: Device, outcome: Result<(), &DeviceError>) -> Row {
    let noun = device.noun();
    let error = match outcome {
        Ok(()) => {
            let text = match device {
                Device::Camera => "Your camera works: you should see yourself below.",
                Device::Microphone => "Your microphone works: the bar below moves when you speak.",
            };
            return Row::new(CheckResult::Ok, text);
        }
        Err(error) => error,
    };
    let text = match error.name.as_deref() {
        Some("NotAllowedError" | "PermissionDeniedError" | "SecurityError") => format!(
            "Access to the {noun} was refused. Allow it for this site (usually from the icon in \
             the address bar), then run the check again."
        ),
        Some("NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError") => {
            format!("No {noun} was found. Connect one, or check that it is switched on.")
        }
        Some("NotReadableError" | "TrackStartError" | "AbortError") => format!(
            "The {noun} could not be started. Another app (or another tab) is probably using \
             it: close it, then run the check again."
        ),
        Some(NO_MEDIA_DEVICES) => format!(
            "This page cannot use the {noun}: the browser only allows it on a secure (https) \
             address."
        ),
        _ => format!("The {noun} could not be opened ({}).", error.detail),
    };
    Row::new(CheckResult::Fail, text)
}

/// A loudness between 0 and 1 from an analyser's time-domain bytes (silence is 128): the
/// root mean square, amplified so that ordinary speech fills a good part of the bar.
pub fn level_from_samples(samples: &[u8]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let centred = (f64::from(s) - 128.0) / 128.0;
            centred * centred
        })
        .sum();
    let rms = (sum / samples.len() as f64).sqrt();
    // Speech rarely passes an RMS of 0.3; without gain the bar would barely move.
    (rms * 3.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(urls: &[&str]) -> Vec<IceServer> {
        vec![IceServer {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            username: Some("u".into()),
            credential: Some("p".into()),
        }]
    }

    fn error(url: &str, code: u16) -> IceErrorReport {
        IceErrorReport {
            url: url.into(),
            code,
            text: "Unauthorized".into(),
        }
    }

    #[test]
    fn candidate_types_are_read_from_the_typ_field() {
        let line = "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host generation 0";
        assert_eq!(
            CandidateType::from_candidate_line(line),
            Some(CandidateType::Host)
        );
        let line = "candidate:2 1 udp 41885439 203.0.113.9 50000 typ relay raddr 0.0.0.0 rport 0";
        assert_eq!(
            CandidateType::from_candidate_line(line),
            Some(CandidateType::Relay)
        );
        assert_eq!(
            CandidateType::from_candidate_line("candidate:3 1 udp 1 h 1 typ srflx raddr x"),
            Some(CandidateType::ServerReflexive)
        );
        assert_eq!(
            CandidateType::from_candidate_line("candidate:4 1 udp 1 h 1 typ prflx"),
            Some(CandidateType::PeerReflexive)
        );
    }

    #[test]
    fn a_line_without_a_known_type_has_no_type() {
        assert_eq!(CandidateType::from_candidate_line(""), None);
        assert_eq!(
            CandidateType::from_candidate_line("candidate:1 relay.host"),
            None
        );
        assert_eq!(CandidateType::from_candidate_line("candidate:1 typ"), None);
        assert_eq!(CandidateType::from_candidate_line("x typ weird"), None);
    }

    #[test]
    fn only_auth_and_allocation_errors_from_turn_urls_are_refusals() {
        for code in [400, 401, 403, 431] {
            assert!(error("turn:t.example:3478", code).is_turn_refusal());
            assert!(error("TURNS:t.example:5349", code).is_turn_refusal());
        }
        assert!(!error("turn:t.example:3478", 701).is_turn_refusal());
        assert!(!error("turn:t.example:3478", 437).is_turn_refusal());
        assert!(!error("stun:s.example:3478", 401).is_turn_refusal());
    }

    #[test]
    fn server_kinds_look_at_every_url() {
        let list = vec![
            IceServer {
                urls: vec!["stun:s:3478".into()],
                username: None,
                credential: None,
            },
            servers(&["turn:t:3478?transport=udp"])[0].clone(),
        ];
        assert_eq!(
            ServerKinds::of(&list),
            ServerKinds {
                stun: true,
                turn: true
            }
        );
        assert_eq!(ServerKinds::of(&[]), ServerKinds::default());
    }

    #[test]
    fn a_normal_call_with_candidates_is_never_ended_early_by_the_watch() {
        let mut watch = IceWatch::new(IcePolicy::All, &servers(&["turn:t:3478"]));
        watch.candidate(Some(CandidateType::Host));
        watch.ice_error(&error("turn:t:3478", 401));
        watch.gathering_complete();
        watch.waited_enough();
        assert_eq!(watch.abort_reason(), None);
    }

    #[test]
    fn a_normal_call_that_gathered_no_candidate_at_all_ends_suggesting_turn() {
        let mut watch = IceWatch::new(IcePolicy::All, &[]);
        assert_eq!(watch.abort_reason(), None);
        watch.gathering_complete();
        assert_eq!(watch.abort_reason(), Some(IceProblem::NeedsTurn));
    }

    #[test]
    fn a_candidate_of_an_unknown_type_still_counts_as_a_candidate() {
        let mut watch = IceWatch::new(IcePolicy::All, &[]);
        watch.candidate(None);
        watch.gathering_complete();
        assert_eq!(watch.abort_reason(), None);
    }

    #[test]
    fn a_relay_only_call_ends_when_the_relay_refuses_the_credentials() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t:3478"]));
        assert_eq!(watch.abort_reason(), None);
        watch.ice_error(&error("turn:t:3478", 401));
        assert_eq!(
            watch.abort_reason(),
            Some(IceProblem::RelayRefused { code: 401 })
        );
        assert!(watch
            .abort_reason()
            .is_some_and(|p| p.text().contains("TURN error 401")));
    }

    #[test]
    fn a_relay_only_call_ends_when_gathering_completes_without_a_relay() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t:3478"]));
        watch.ice_error(&error("turn:t:3478", 701));
        assert_eq!(watch.abort_reason(), None);
        watch.gathering_complete();
        assert_eq!(watch.abort_reason(), Some(IceProblem::NoRelay));
    }

    #[test]
    fn a_relay_only_call_ends_when_the_relay_stays_silent_too_long() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t:3478"]));
        watch.waited_enough();
        assert_eq!(watch.abort_reason(), Some(IceProblem::NoRelay));
    }

    #[test]
    fn a_relay_only_call_without_any_turn_server_ends_at_once() {
        let watch = IceWatch::new(IcePolicy::Relay, &servers(&["stun:s:3478"]));
        assert_eq!(watch.abort_reason(), Some(IceProblem::NoRelayConfigured));
    }

    #[test]
    fn a_relay_candidate_keeps_a_relay_only_call_going_whatever_else_fails() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:a", "turn:b"]));
        watch.candidate(Some(CandidateType::Relay));
        watch.ice_error(&error("turn:b", 401));
        watch.gathering_complete();
        assert_eq!(watch.abort_reason(), None);
        assert_eq!(watch.failure_reason(), None);
    }

    #[test]
    fn a_connected_call_is_not_ended_by_a_late_error() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t"]));
        watch.connected();
        watch.ice_error(&error("turn:t", 401));
        assert_eq!(watch.abort_reason(), None);
    }

    #[test]
    fn a_failed_call_without_relay_candidates_probably_needed_turn() {
        let mut watch = IceWatch::new(IcePolicy::All, &[]);
        watch.candidate(Some(CandidateType::Host));
        watch.candidate(Some(CandidateType::ServerReflexive));
        assert_eq!(watch.failure_reason(), Some(IceProblem::NeedsTurn));
        assert!(IceProblem::NeedsTurn.text().contains("TURN"));
    }

    #[test]
    fn a_failed_call_that_had_a_relay_gets_no_turn_hint() {
        let mut watch = IceWatch::new(IcePolicy::All, &servers(&["turn:t"]));
        watch.candidate(Some(CandidateType::Relay));
        assert_eq!(watch.failure_reason(), None);
    }

    #[test]
    fn a_failed_relay_only_call_names_the_refusal_if_there_was_one() {
        let mut watch = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t"]));
        watch.ice_error(&error("turn:t", 403));
        assert_eq!(
            watch.failure_reason(),
            Some(IceProblem::RelayRefused { code: 403 })
        );
        let quiet = IceWatch::new(IcePolicy::Relay, &servers(&["turn:t"]));
        assert_eq!(quiet.failure_reason(), Some(IceProblem::NoRelay));
    }

    #[test]
    fn check_rows_wait_for_the_servers_settings() {
        let check = NetworkCheck::new(IcePolicy::All);
        assert_eq!(check.host().result, CheckResult::Pending);
        assert_eq!(check.srflx().result, CheckResult::Pending);
        assert_eq!(check.relay().result, CheckResult::Pending);
    }

    #[test]
    fn check_rows_are_skipped_when_no_server_of_their_kind_is_configured() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&[]);
        assert_eq!(check.srflx().result, CheckResult::Skipped);
        assert_eq!(check.relay().result, CheckResult::Skipped);
        // The host row needs no server, so it waits for gathering.
        assert_eq!(check.host().result, CheckResult::Pending);
    }

    #[test]
    fn check_rows_become_ok_as_candidates_arrive() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.candidate(CandidateType::Host);
        check.candidate(CandidateType::ServerReflexive);
        check.candidate(CandidateType::Relay);
        for row in [check.host(), check.srflx(), check.relay()] {
            assert_eq!(row.result, CheckResult::Ok);
        }
    }

    #[test]
    fn a_refused_relay_is_reported_with_its_code_once_gathering_ends() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:t"]));
        check.ice_error(error("turn:t", 401));
        assert_eq!(check.relay().result, CheckResult::Pending);
        check.finish();
        let row = check.relay();
        assert_eq!(row.result, CheckResult::Fail);
        assert!(row
            .text
            .contains("refused the credentials (401: Unauthorized)"));
    }

    #[test]
    fn a_reason_phrase_ending_in_a_full_stop_is_not_punctuated_twice() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:t"]));
        check.ice_error(IceErrorReport {
            url: "turn:t".into(),
            code: 400,
            text: "TURN allocate error.".into(),
        });
        check.finish();
        assert!(check.relay().text.contains("(400: TURN allocate error)."));
    }

    #[test]
    fn a_refusal_is_not_hidden_by_a_later_unreachable_error() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:a", "turn:b"]));
        check.ice_error(error("turn:a", 701));
        check.ice_error(error("turn:b", 401));
        check.ice_error(error("turn:a", 701));
        check.finish();
        assert!(check.relay().text.contains("refused"));
    }

    #[test]
    fn a_silent_relay_fails_with_no_relay_candidate() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.finish();
        assert_eq!(check.host().result, CheckResult::Fail);
        assert_eq!(check.srflx().result, CheckResult::Fail);
        let relay = check.relay();
        assert_eq!(relay.result, CheckResult::Fail);
        assert!(relay.text.contains("No relay candidate"));
    }

    #[test]
    fn relay_only_mode_skips_the_direct_rows() {
        let mut check = NetworkCheck::new(IcePolicy::Relay);
        check.configured(&servers(&["stun:s", "turn:t"]));
        assert_eq!(check.host().result, CheckResult::Skipped);
        assert_eq!(check.srflx().result, CheckResult::Skipped);
        assert_eq!(check.relay().result, CheckResult::Pending);
    }

    #[test]
    fn an_unreachable_server_fails_the_server_rows() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.server_unreachable();
        check.candidate(CandidateType::Host);
        check.finish();
        assert_eq!(check.host().result, CheckResult::Ok);
        assert_eq!(check.srflx().result, CheckResult::Fail);
        assert_eq!(check.relay().result, CheckResult::Fail);
    }

    #[test]
    fn a_browser_that_cannot_run_the_test_fails_every_network_row_with_the_reason() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.broken("NotSupportedError".into());
        assert!(check.is_finished());
        for row in [check.host(), check.srflx(), check.relay()] {
            assert_eq!(row.result, CheckResult::Fail);
            assert!(row.text.contains("NotSupportedError"));
        }
    }

    #[test]
    fn check_results_have_the_attribute_values_the_tests_expect() {
        assert_eq!(CheckResult::Pending.as_str(), "pending");
        assert_eq!(CheckResult::Ok.as_str(), "ok");
        assert_eq!(CheckResult::Fail.as_str(), "fail");
        assert_eq!(CheckResult::Skipped.as_str(), "skipped");
        assert!(!CheckResult::Pending.is_final());
        assert!(CheckResult::Skipped.is_final());
    }

    #[test]
    fn device_errors_are_put_into_plain_words() {
        let refused = DeviceError {
            name: Some("NotAllowedError".into()),
            detail: "NotAllowedError: Permission denied".into(),
        };
        let row = device_row(Device::Camera, Err(&refused));
        assert_eq!(row.result, CheckResult::Fail);
        assert!(row.text.contains("camera was refused"));

        let busy = DeviceError {
            name: Some("NotReadableError".into()),
            detail: String::new(),
        };
        assert!(device_row(Device::Microphone, Err(&busy))
            .text
            .contains("Another app"));

        let odd = DeviceError {
            name: None,
            detail: "something odd".into(),
        };
        assert!(device_row(Device::Camera, Err(&odd))
            .text
            .contains("something odd"));
        assert_eq!(
            device_row(Device::Microphone, Ok(())).result,
            CheckResult::Ok
        );
    }

    #[test]
    fn silence_has_no_level_and_a_loud_signal_fills_the_bar() {
        assert_eq!(level_from_samples(&[]), 0.0);
        assert_eq!(level_from_samples(&[128; 64]), 0.0);
        let loud: Vec<u8> = (0..64).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert_eq!(level_from_samples(&loud), 1.0);
        let quiet: Vec<u8> = (0..64)
            .map(|i| if i % 2 == 0 { 120 } else { 136 })
            .collect();
        let level = level_from_samples(&quiet);
        assert!(level > 0.0 && level < 0.5, "{level}");
    }
}
