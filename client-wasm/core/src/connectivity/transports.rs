//! The `/check` page's relay transports: whether the TURN relay can be reached over UDP, over
//! TCP and over TLS, each tried on its own with only its own URLs, and the sentence that says
//! what the combination means for calls from this network. Pure Rust with no browser types;
//! `check/transports.rs` in the browser crate runs one throw-away peer connection per transport.

use visavis_shared::{IceServer, RelayTransport};

use super::check::{CheckResult, Row};
use super::ice::IceErrorReport;

/// The transports the check tries, in the order the page shows them (and browsers prefer them).
pub const TRANSPORTS: [RelayTransport; 3] = [
    RelayTransport::Udp,
    RelayTransport::Tcp,
    RelayTransport::Tls,
];

/// The transport a TURN URL reaches its relay over: `turns:` is TLS; `turn:` is TCP with
/// `?transport=tcp` and UDP otherwise (UDP is the default of RFC 7065). `None` for anything that
/// is not a TURN URL.
pub fn url_transport(url: &str) -> Option<RelayTransport> {
    let url = url.trim();
    let (scheme, rest) = url.split_once(':')?;
    let query = rest.split_once('?').map_or("", |(_, query)| query);
    let tcp = query.split('&').any(|pair| {
        pair.split_once('=').is_some_and(|(key, value)| {
            key.eq_ignore_ascii_case("transport") && value.eq_ignore_ascii_case("tcp")
        })
    });
    if scheme.eq_ignore_ascii_case("turns") {
        Some(RelayTransport::Tls)
    } else if scheme.eq_ignore_ascii_case("turn") {
        Some(if tcp {
            RelayTransport::Tcp
        } else {
            RelayTransport::Udp
        })
    } else {
        None
    }
}

/// The ICE servers that try `transport` alone: every TURN server's URLs of that transport, with
/// that server's credentials. Servers without such a URL, and every STUN URL, are left out, so
/// a relay candidate gathered with them can only have come over `transport`. Empty when no
/// server offers it.
pub fn servers_for(servers: &[IceServer], transport: RelayTransport) -> Vec<IceServer> {
    servers
        .iter()
        .filter_map(|server| {
            let urls: Vec<String> = server
                .urls
                .iter()
                .filter(|url| url_transport(url) == Some(transport))
                .cloned()
                .collect();
            (!urls.is_empty()).then(|| IceServer {
                urls,
                username: server.username.clone(),
                credential: server.credential.clone(),
            })
        })
        .collect()
}

/// The short name of a transport in sentences.
fn name(transport: RelayTransport) -> &'static str {
    match transport {
        RelayTransport::Udp => "UDP",
        RelayTransport::Tcp => "TCP",
        RelayTransport::Tls => "TLS",
    }
}

fn index(transport: RelayTransport) -> usize {
    match transport {
        RelayTransport::Udp => 0,
        RelayTransport::Tcp => 1,
        RelayTransport::Tls => 2,
    }
}

/// What one transport's probe has found so far.
#[derive(Debug, Clone, Default)]
struct Probe {
    offered: bool,
    reached: bool,
    finished: bool,
    /// The most telling error: a refusal wins over any other error.
    error: Option<IceErrorReport>,
    broken: Option<String>,
}

/// The transport half of the check page: one probe per transport, turned into rows and one
/// sentence.
#[derive(Debug, Clone, Default)]
pub struct TransportCheck {
    /// `false` until `config` arrives (or the server is lost).
    configured: bool,
    server_unreachable: bool,
    probes: [Probe; 3],
}

/// Whether the relay can be reached over one transport, for [`summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A relay address was allocated over it.
    Works,
    /// It was offered, but no relay address came over it.
    Fails,
    /// The server does not offer the relay over it.
    NotOffered,
}

impl TransportCheck {
    /// A check that waits for the server's settings.
    pub fn new() -> TransportCheck {
        TransportCheck::default()
    }

    /// The server's `config` arrived with these ICE servers.
    pub fn configured(&mut self, servers: &[IceServer]) {
        self.configured = true;
        for transport in TRANSPORTS {
            let probe = &mut self.probes[index(transport)];
            probe.offered = !servers_for(servers, transport).is_empty();
            // Nothing to try: that row is final at once.
            probe.finished = !probe.offered;
        }
    }

    /// The server could not be reached, so no relay is known.
    pub fn server_unreachable(&mut self) {
        self.configured = true;
        self.server_unreachable = true;
        for probe in &mut self.probes {
            probe.finished = true;
        }
    }

    /// The probe of `transport` gathered a relay candidate. `relay_protocol` is the
    /// candidate's own `relayProtocol` where the browser gives it; a candidate that says it
    /// came over another transport does not count.
    pub fn relay_candidate(&mut self, transport: RelayTransport, relay_protocol: Option<&str>) {
        let matches = relay_protocol.is_none_or(|protocol| {
            RelayTransport::from_relay_protocol(&protocol.to_ascii_lowercase()) == Some(transport)
        });
        if matches {
            self.probes[index(transport)].reached = true;
        }
    }

    /// The browser reported a TURN error to the probe of `transport`.
    pub fn ice_error(&mut self, transport: RelayTransport, error: IceErrorReport) {
        let probe = &mut self.probes[index(transport)];
        let keep_old = probe
            .error
            .as_ref()
            .is_some_and(|old| old.is_turn_refusal() || !error.is_turn_refusal());
        if !keep_old {
            probe.error = Some(error);
        }
    }

    /// The probe of `transport` could not run (no peer connection, no offer).
    pub fn broken(&mut self, transport: RelayTransport, reason: String) {
        let probe = &mut self.probes[index(transport)];
        probe.broken = Some(reason);
        probe.finished = true;
    }

    /// The probe of `transport` is over (gathering complete or timed out).
    pub fn finish(&mut self, transport: RelayTransport) {
        self.probes[index(transport)].finished = true;
    }

    /// Whether the probe of `transport` is over.
    pub fn is_finished(&self, transport: RelayTransport) -> bool {
        self.probes[index(transport)].finished
    }

    /// Whether the server offers the relay over `transport` (false until `config`).
    pub fn is_offered(&self, transport: RelayTransport) -> bool {
        self.probes[index(transport)].offered
    }

    /// The row of `transport`.
    pub fn row(&self, transport: RelayTransport) -> Row {
        let probe = &self.probes[index(transport)];
        let over = name(transport);
        if let Some(reason) = &probe.broken {
            return Row::new(
                CheckResult::Fail,
                format!("Your browser could not run this test ({reason})."),
            );
        }
        if probe.reached {
            return Row::new(
                CheckResult::Ok,
                format!("The relay answered over {over} and gave this browser a relay address."),
            );
        }
        if self.server_unreachable {
            return Row::new(
                CheckResult::Fail,
                "Not tested: the visavis server could not be reached to get its relay settings.",
            );
        }
        if !self.configured {
            return Row::pending("Waiting for the server's settings…");
        }
        if !probe.offered {
            return Row::new(
                CheckResult::Skipped,
                format!("Not tested: this server does not offer its relay over {over}."),
            );
        }
        if !probe.finished {
            return Row::pending(format!("Asking the relay for an address over {over}…"));
        }
        let text = match &probe.error {
            Some(error) if error.is_turn_refusal() => format!(
                "The relay answered over {over} but refused the credentials ({}).",
                error.code_and_text()
            ),
            Some(error) => format!(
                "The relay could not be reached over {over} ({}). A firewall may block it.",
                error.code_and_text()
            ),
            None => format!(
                "The relay did not answer over {over} in time. A firewall may block it, or it \
                 may be down."
            ),
        };
        Row::new(CheckResult::Fail, text)
    }

    /// The sentence about all three, once every row is final; `None` while any is pending.
    pub fn summary(&self) -> Option<String> {
        if !TRANSPORTS
            .iter()
            .all(|&transport| self.row(transport).result.is_final())
        {
            return None;
        }
        let reach = |transport: RelayTransport| {
            let probe = &self.probes[index(transport)];
            if self.server_unreachable {
                Reach::Fails
            } else if !probe.offered {
                Reach::NotOffered
            } else if probe.reached {
                Reach::Works
            } else {
                Reach::Fails
            }
        };
        if self.server_unreachable {
            return Some(
                "The relay could not be tested: the visavis server did not answer.".to_owned(),
            );
        }
        Some(summary(
            reach(RelayTransport::Udp),
            reach(RelayTransport::Tcp),
            reach(RelayTransport::Tls),
        ))
    }
}

/// `UDP`, `UDP or TCP`, `UDP, TCP or TLS` (with `joiner` "or" or "and").
fn list(transports: &[RelayTransport], joiner: &str) -> String {
    let names: Vec<&str> = transports.iter().map(|&t| name(t)).collect();
    match names.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} {joiner} {last}", init.join(", ")),
    }
}

/// What the relay's reach over UDP, TCP and TLS means for calls from this network, in plain
/// words.
pub fn summary(udp: Reach, tcp: Reach, tls: Reach) -> String {
    let all = [
        (RelayTransport::Udp, udp),
        (RelayTransport::Tcp, tcp),
        (RelayTransport::Tls, tls),
    ];
    let with = |wanted: fn(Reach) -> bool| -> Vec<RelayTransport> {
        all.iter()
            .filter(|(_, reach)| wanted(*reach))
            .map(|(transport, _)| *transport)
            .collect()
    };
    let offered = with(|reach| reach != Reach::NotOffered);
    let works = with(|reach| reach == Reach::Works);
    let fails = with(|reach| reach == Reach::Fails);
    if offered.is_empty() {
        return "This server offers no relay, so calls between networks that block direct \
                connections will fail."
            .to_owned();
    }
    if fails.is_empty() {
        return if offered.len() == TRANSPORTS.len() {
            "All ways through the relay work: UDP, TCP and TLS.".to_owned()
        } else {
            format!(
                "Every way through the relay that this server offers works: {}.",
                list(&offered, "and")
            )
        };
    }
    let Some(&best) = works.first() else {
        return format!(
            "The relay cannot be reached from this network over {}. A firewall may block it, \
             or it may be down: calls that need the relay will fail from here.",
            list(&offered, "or")
        );
    };
    let failing = list(&fails, "or");
    match udp {
        Reach::Works => format!(
            "The relay works over UDP, so calls from here can use it. It cannot be reached \
             over {failing}, which matters only on networks that block UDP."
        ),
        Reach::Fails => {
            let also = works
                .get(1)
                .map(|other| format!(" ({} works too)", name(*other)))
                .unwrap_or_default();
            format!(
                "UDP is blocked on your network; calls will go through the relay over {}{also}.",
                name(best)
            )
        }
        Reach::NotOffered => format!(
            "The relay works over {}, so calls from here can use it; it cannot be reached \
             over {failing}.",
            name(best)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectivity::ice::tests::error;
    use Reach::{Fails, NotOffered, Works};
    use RelayTransport::{Tcp, Tls, Udp};

    fn advertised(urls: &[&str]) -> Vec<IceServer> {
        vec![
            IceServer {
                urls: vec!["stun:stun.example.org:3478".into()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: urls.iter().map(|u| (*u).to_owned()).collect(),
                username: Some("u".into()),
                credential: Some("p".into()),
            },
        ]
    }

    const BUILTIN: [&str; 3] = [
        "turn:relay.example.org:3478?transport=udp",
        "turn:relay.example.org:3478?transport=tcp",
        "turns:relay.example.org:5349?transport=tcp",
    ];

    #[test]
    fn urls_name_their_transport() {
        assert_eq!(url_transport(BUILTIN[0]), Some(Udp));
        assert_eq!(url_transport(BUILTIN[1]), Some(Tcp));
        assert_eq!(url_transport(BUILTIN[2]), Some(Tls));
        assert_eq!(url_transport("turn:192.0.2.1:3478"), Some(Udp));
        assert_eq!(
            url_transport("TURN:[2001:db8::1]:3478?Transport=TCP"),
            Some(Tcp)
        );
        assert_eq!(url_transport("turns:relay.example.org:443"), Some(Tls));
        assert_eq!(url_transport("stun:stun.example.org:3478"), None);
        assert_eq!(url_transport("nonsense"), None);
    }

    #[test]
    fn each_transport_is_tried_with_only_its_own_urls_and_the_credentials() {
        let servers = advertised(&BUILTIN);
        for (transport, url) in TRANSPORTS.into_iter().zip(BUILTIN) {
            let only = servers_for(&servers, transport);
            assert_eq!(only.len(), 1, "{transport:?}");
            assert_eq!(only[0].urls, vec![url.to_owned()]);
            assert_eq!(only[0].username.as_deref(), Some("u"));
            assert_eq!(only[0].credential.as_deref(), Some("p"));
        }
        assert!(servers_for(&advertised(&BUILTIN[..2]), Tls).is_empty());
    }

    #[test]
    fn rows_wait_for_the_settings_then_for_their_probe() {
        let mut check = TransportCheck::new();
        assert_eq!(check.row(Udp).result, CheckResult::Pending);
        assert_eq!(check.summary(), None);
        check.configured(&advertised(&BUILTIN[..2]));
        assert_eq!(check.row(Udp).result, CheckResult::Pending);
        assert_eq!(check.row(Tcp).result, CheckResult::Pending);
        // TLS is not offered: skipped at once, and its probe counts as finished.
        assert_eq!(check.row(Tls).result, CheckResult::Skipped);
        assert!(check.is_finished(Tls) && !check.is_offered(Tls));
        assert_eq!(check.summary(), None);
    }

    #[test]
    fn udp_blocked_with_tcp_and_tls_working_says_so() {
        let mut check = TransportCheck::new();
        check.configured(&advertised(&BUILTIN));
        check.relay_candidate(Tcp, Some("tcp"));
        check.relay_candidate(Tls, None);
        check.ice_error(Udp, error(BUILTIN[0], 701));
        for transport in TRANSPORTS {
            check.finish(transport);
        }
        assert_eq!(check.row(Udp).result, CheckResult::Fail);
        assert!(check.row(Udp).text.contains("over UDP (701"));
        assert_eq!(check.row(Tcp).result, CheckResult::Ok);
        assert_eq!(check.row(Tls).result, CheckResult::Ok);
        assert_eq!(
            check.summary().as_deref(),
            Some("UDP is blocked on your network; calls will go through the relay over TCP (TLS works too).")
        );
    }

    #[test]
    fn a_candidate_that_came_over_another_transport_does_not_count() {
        let mut check = TransportCheck::new();
        check.configured(&advertised(&BUILTIN));
        check.relay_candidate(Tcp, Some("udp"));
        check.finish(Tcp);
        assert_eq!(check.row(Tcp).result, CheckResult::Fail);
        check.relay_candidate(Tcp, Some("TCP"));
        assert_eq!(check.row(Tcp).result, CheckResult::Ok);
    }

    #[test]
    fn a_refusal_is_told_apart_and_not_hidden_by_a_later_error() {
        let mut check = TransportCheck::new();
        check.configured(&advertised(&BUILTIN));
        check.ice_error(Tls, error(BUILTIN[2], 401));
        check.ice_error(Tls, error(BUILTIN[2], 701));
        check.finish(Tls);
        assert!(check.row(Tls).text.contains("refused the credentials (401"));
        check.finish(Tcp);
        assert!(check.row(Tcp).text.contains("did not answer over TCP"));
    }

    #[test]
    fn an_unreachable_server_or_a_broken_browser_fails_the_rows() {
        let mut check = TransportCheck::new();
        check.server_unreachable();
        for transport in TRANSPORTS {
            assert_eq!(check.row(transport).result, CheckResult::Fail);
        }
        assert!(check
            .summary()
            .is_some_and(|s| s.contains("did not answer")));

        let mut check = TransportCheck::new();
        check.configured(&advertised(&BUILTIN));
        check.broken(Udp, "NotSupportedError".into());
        assert_eq!(check.row(Udp).result, CheckResult::Fail);
        assert!(check.row(Udp).text.contains("NotSupportedError"));
    }

    #[test]
    fn without_any_relay_every_row_is_skipped() {
        let mut check = TransportCheck::new();
        check.configured(&advertised(&[]));
        for transport in TRANSPORTS {
            assert_eq!(check.row(transport).result, CheckResult::Skipped);
        }
        assert!(check
            .summary()
            .is_some_and(|s| s.contains("offers no relay")));
    }

    /// The expected sentence for every one of the 27 combinations.
    fn expected(udp: Reach, tcp: Reach, tls: Reach) -> &'static str {
        match (udp, tcp, tls) {
            (NotOffered, NotOffered, NotOffered) => {
                "This server offers no relay, so calls between networks that block direct \
                 connections will fail."
            }
            (Works, Works, Works) => "All ways through the relay work: UDP, TCP and TLS.",
            (Works, Works, NotOffered) => {
                "Every way through the relay that this server offers works: UDP and TCP."
            }
            (Works, NotOffered, Works) => {
                "Every way through the relay that this server offers works: UDP and TLS."
            }
            (NotOffered, Works, Works) => {
                "Every way through the relay that this server offers works: TCP and TLS."
            }
            (Works, NotOffered, NotOffered) => {
                "Every way through the relay that this server offers works: UDP."
            }
            (NotOffered, Works, NotOffered) => {
                "Every way through the relay that this server offers works: TCP."
            }
            (NotOffered, NotOffered, Works) => {
                "Every way through the relay that this server offers works: TLS."
            }
            (Fails, Fails, Fails) => {
                "The relay cannot be reached from this network over UDP, TCP or TLS. A \
                 firewall may block it, or it may be down: calls that need the relay will \
                 fail from here."
            }
            (Fails, Fails, NotOffered) => {
                "The relay cannot be reached from this network over UDP or TCP. A firewall \
                 may block it, or it may be down: calls that need the relay will fail from \
                 here."
            }
            (Fails, NotOffered, Fails) => {
                "The relay cannot be reached from this network over UDP or TLS. A firewall \
                 may block it, or it may be down: calls that need the relay will fail from \
                 here."
            }
            (NotOffered, Fails, Fails) => {
                "The relay cannot be reached from this network over TCP or TLS. A firewall \
                 may block it, or it may be down: calls that need the relay will fail from \
                 here."
            }
            (Fails, NotOffered, NotOffered) => {
                "The relay cannot be reached from this network over UDP. A firewall may \
                 block it, or it may be down: calls that need the relay will fail from here."
            }
            (NotOffered, Fails, NotOffered) => {
                "The relay cannot be reached from this network over TCP. A firewall may \
                 block it, or it may be down: calls that need the relay will fail from here."
            }
            (NotOffered, NotOffered, Fails) => {
                "The relay cannot be reached from this network over TLS. A firewall may \
                 block it, or it may be down: calls that need the relay will fail from here."
            }
            (Works, Fails, Fails) => {
                "The relay works over UDP, so calls from here can use it. It cannot be \
                 reached over TCP or TLS, which matters only on networks that block UDP."
            }
            (Works, Fails, Works) | (Works, Fails, NotOffered) => {
                "The relay works over UDP, so calls from here can use it. It cannot be \
                 reached over TCP, which matters only on networks that block UDP."
            }
            (Works, Works, Fails) | (Works, NotOffered, Fails) => {
                "The relay works over UDP, so calls from here can use it. It cannot be \
                 reached over TLS, which matters only on networks that block UDP."
            }
            (Fails, Works, Works) => {
                "UDP is blocked on your network; calls will go through the relay over TCP \
                 (TLS works too)."
            }
            (Fails, Works, Fails) | (Fails, Works, NotOffered) => {
                "UDP is blocked on your network; calls will go through the relay over TCP."
            }
            (Fails, Fails, Works) | (Fails, NotOffered, Works) => {
                "UDP is blocked on your network; calls will go through the relay over TLS."
            }
            (NotOffered, Works, Fails) => {
                "The relay works over TCP, so calls from here can use it; it cannot be \
                 reached over TLS."
            }
            (NotOffered, Fails, Works) => {
                "The relay works over TLS, so calls from here can use it; it cannot be \
                 reached over TCP."
            }
        }
    }

    #[test]
    fn every_combination_has_its_sentence() {
        let all = [Works, Fails, NotOffered];
        let mut seen = 0;
        for udp in all {
            for tcp in all {
                for tls in all {
                    assert_eq!(
                        summary(udp, tcp, tls),
                        expected(udp, tcp, tls),
                        "{udp:?} {tcp:?} {tls:?}"
                    );
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 27);
    }
}
