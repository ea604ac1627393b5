//! Connectivity diagnosis during a call: which kinds of ICE candidate were gathered, which
//! STUN/TURN errors the browser reported, and what that means for the call (end a relay-only
//! attempt, hint that a TURN server is needed). Pure Rust with no browser types, so every
//! decision is unit-tested natively.

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
    pub(crate) fn code_and_text(&self) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn servers(urls: &[&str]) -> Vec<IceServer> {
        vec![IceServer {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            username: Some("u".into()),
            credential: Some("p".into()),
        }]
    }

    pub(crate) fn error(url: &str, code: u16) -> IceErrorReport {
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
}
