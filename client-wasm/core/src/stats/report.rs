//! The call report's content: which path the media took, picked from `getStats()` entries,
//! and how long the call took to set up. Pure Rust: the browser crate turns the browser's
//! `RTCStatsReport` into [`Stat`]s, and the choice is unit-tested natively here. The live
//! statistics panel (`live.rs`) reads the same entries.

use visavis_shared::{MediaPath, RelayTransport};

/// One field value of a stats entry.
#[derive(Debug, Clone, PartialEq)]
pub enum StatValue {
    /// A string field (ids, states, candidate types).
    Text(String),
    /// A boolean field (`selected`, `nominated`).
    Flag(bool),
    /// A numeric field (byte and packet counters, times, frame sizes).
    Number(f64),
}

/// One entry of an `RTCStatsReport`: its `type`, its `id`, and the fields that were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// `transport`, `candidate-pair`, `local-candidate`, `remote-candidate`…
    pub kind: String,
    /// The entry's id, which other entries refer to.
    pub id: String,
    /// The fields read from the entry (see [`FIELDS`]).
    pub fields: Vec<(String, StatValue)>,
}

/// The fields worth reading from each entry; everything else is left in the browser. The first
/// group names the media path; the rest feed the live statistics panel.
pub const FIELDS: &[&str] = &[
    "selectedCandidatePairId",
    "localCandidateId",
    "remoteCandidateId",
    "state",
    "selected",
    "nominated",
    "candidateType",
    "relayProtocol",
    // Live statistics: which stream an RTP entry is and its codec…
    "kind",
    "mediaType",
    "codecId",
    "mimeType",
    // …its counters, read twice to get rates…
    "timestamp",
    "bytesSent",
    "bytesReceived",
    "packetsLost",
    "packetsReceived",
    // …and its current values.
    "jitter",
    "currentRoundTripTime",
    "roundTripTime",
    "frameWidth",
    "frameHeight",
    "framesPerSecond",
    // The adaptation to the network (`adapt/`): the other side's loss report on what we send,
    // and the congestion control's estimate of what the path can carry.
    "fractionLost",
    "availableOutgoingBitrate",
];

impl Stat {
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.fields.iter().find_map(|(field, value)| match value {
            StatValue::Text(text) if field == name => Some(text.as_str()),
            _ => None,
        })
    }

    /// A numeric field, if it is there and finite.
    pub(crate) fn number(&self, name: &str) -> Option<f64> {
        self.fields.iter().find_map(|(field, value)| match value {
            StatValue::Number(number) if field == name && number.is_finite() => Some(*number),
            _ => None,
        })
    }

    fn flag(&self, name: &str) -> bool {
        self.fields
            .iter()
            .any(|(field, value)| field == name && *value == StatValue::Flag(true))
    }

    pub(crate) fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }
}

/// The candidate pair the media flows over: the one the `transport` entry names (Chrome,
/// Safari); else the one flagged `selected` (Firefox); else a nominated pair whose checks
/// succeeded.
pub(crate) fn selected_pair(stats: &[Stat]) -> Option<&Stat> {
    let pairs = || stats.iter().filter(|s| s.is("candidate-pair"));
    let named = stats
        .iter()
        .filter(|s| s.is("transport"))
        .filter_map(|t| t.text("selectedCandidatePairId"))
        .find_map(|id| pairs().find(|pair| pair.id == id));
    named
        .or_else(|| pairs().find(|pair| pair.flag("selected")))
        .or_else(|| {
            pairs().find(|pair| pair.flag("nominated") && pair.text("state") == Some("succeeded"))
        })
}

/// The `candidateType` of the entry of `kind` with `id`.
pub(crate) fn candidate_type<'a>(
    stats: &'a [Stat],
    kind: &str,
    id: Option<&str>,
) -> Option<&'a str> {
    let id = id?;
    stats
        .iter()
        .find(|s| s.is(kind) && s.id == id)
        .and_then(|s| s.text("candidateType"))
}

/// The media path of the selected candidate pair: `Relay` if either end is a relay candidate,
/// `Direct` if both ends are known and neither is. `None` while the browser cannot tell yet.
pub fn media_path(stats: &[Stat]) -> Option<MediaPath> {
    let pair = selected_pair(stats)?;
    let local = candidate_type(stats, "local-candidate", pair.text("localCandidateId"));
    let remote = candidate_type(stats, "remote-candidate", pair.text("remoteCandidateId"));
    match (local, remote) {
        (Some("relay"), _) | (_, Some("relay")) => Some(MediaPath::Relay),
        (Some(_), Some(_)) => Some(MediaPath::Direct),
        _ => None,
    }
}

/// How this browser reaches its relay on the media path: the `relayProtocol` (`udp`, `tcp` or
/// `tls`) of the selected pair's local candidate, when that candidate is a relay candidate.
/// `None` when our end is not relayed (the relay may be the other person's only), when the
/// browser does not say, or when it names a protocol this version does not know.
pub fn relay_transport(stats: &[Stat]) -> Option<RelayTransport> {
    let pair = selected_pair(stats)?;
    let id = pair.text("localCandidateId")?;
    let local = stats
        .iter()
        .find(|s| s.is("local-candidate") && s.id == id)?;
    if local.text("candidateType") != Some("relay") {
        return None;
    }
    local
        .text("relayProtocol")
        .and_then(RelayTransport::from_relay_protocol)
}

/// The words shown on the page for a path.
pub fn path_label(path: MediaPath) -> &'static str {
    match path {
        MediaPath::Direct => "Direct connection",
        MediaPath::Relay => "Relayed through TURN",
    }
}

/// Whole milliseconds from `start_ms` to `end_ms`, clamped into `u32` (a clock going
/// backwards gives 0; absurdly long set-ups saturate instead of wrapping).
pub fn elapsed_ms(start_ms: f64, end_ms: f64) -> u32 {
    let elapsed = (end_ms - start_ms).round();
    if elapsed.is_nan() || elapsed <= 0.0 {
        0
    } else if elapsed >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        // In range and whole, so the cast is exact.
        elapsed as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(kind: &str, id: &str, fields: &[(&str, StatValue)]) -> Stat {
        Stat {
            kind: kind.into(),
            id: id.into(),
            fields: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
        }
    }

    fn text(value: &str) -> StatValue {
        StatValue::Text(value.into())
    }

    fn candidates(local: &str, remote: &str) -> Vec<Stat> {
        vec![
            stat("local-candidate", "L1", &[("candidateType", text(local))]),
            stat("remote-candidate", "R1", &[("candidateType", text(remote))]),
            stat("local-candidate", "L2", &[("candidateType", text("relay"))]),
            stat(
                "remote-candidate",
                "R2",
                &[("candidateType", text("relay"))],
            ),
        ]
    }

    fn pair(id: &str, local: &str, remote: &str, extra: &[(&str, StatValue)]) -> Stat {
        let mut fields = vec![
            ("localCandidateId", text(local)),
            ("remoteCandidateId", text(remote)),
        ];
        fields.extend(extra.iter().cloned());
        stat("candidate-pair", id, &fields)
    }

    #[test]
    fn the_transport_names_the_selected_pair() {
        let mut stats = candidates("host", "srflx");
        stats.push(pair(
            "P2",
            "L2",
            "R2",
            &[("nominated", StatValue::Flag(true))],
        ));
        stats.push(pair("P1", "L1", "R1", &[]));
        stats.push(stat(
            "transport",
            "T",
            &[("selectedCandidatePairId", text("P1"))],
        ));
        assert_eq!(media_path(&stats), Some(MediaPath::Direct));
    }

    #[test]
    fn a_relay_on_either_end_means_relayed() {
        for (local, remote) in [("relay", "host"), ("host", "relay"), ("relay", "relay")] {
            let mut stats = candidates(local, remote);
            stats.push(pair(
                "P1",
                "L1",
                "R1",
                &[("selected", StatValue::Flag(true))],
            ));
            assert_eq!(
                media_path(&stats),
                Some(MediaPath::Relay),
                "{local}/{remote}"
            );
        }
    }

    #[test]
    fn a_pair_flagged_selected_is_used_without_a_transport_entry() {
        let mut stats = candidates("prflx", "host");
        stats.push(pair(
            "P2",
            "L2",
            "R2",
            &[("selected", StatValue::Flag(false))],
        ));
        stats.push(pair(
            "P1",
            "L1",
            "R1",
            &[("selected", StatValue::Flag(true))],
        ));
        assert_eq!(media_path(&stats), Some(MediaPath::Direct));
    }

    #[test]
    fn a_nominated_pair_counts_only_once_its_checks_succeeded() {
        let mut stats = candidates("host", "host");
        stats.push(pair(
            "P2",
            "L2",
            "R2",
            &[
                ("nominated", StatValue::Flag(true)),
                ("state", text("in-progress")),
            ],
        ));
        assert_eq!(media_path(&stats), None);
        stats.push(pair(
            "P1",
            "L1",
            "R1",
            &[
                ("nominated", StatValue::Flag(true)),
                ("state", text("succeeded")),
            ],
        ));
        assert_eq!(media_path(&stats), Some(MediaPath::Direct));
    }

    #[test]
    fn nothing_is_concluded_without_a_selected_pair_or_its_candidates() {
        assert_eq!(media_path(&[]), None);
        let stats = vec![
            pair("P1", "L9", "R9", &[("selected", StatValue::Flag(true))]),
            stat("local-candidate", "L9", &[("candidateType", text("host"))]),
        ];
        // The remote end is unknown, and the local one alone cannot rule out a relay.
        assert_eq!(media_path(&stats), None);
    }

    #[test]
    fn a_transport_naming_a_missing_pair_falls_back_to_flags() {
        let mut stats = candidates("relay", "host");
        stats.push(stat(
            "transport",
            "T",
            &[("selectedCandidatePairId", text("gone"))],
        ));
        stats.push(pair(
            "P1",
            "L1",
            "R1",
            &[("selected", StatValue::Flag(true))],
        ));
        assert_eq!(media_path(&stats), Some(MediaPath::Relay));
    }

    /// A selected pair whose local candidate is of `local_type`, with `relayProtocol`
    /// `protocol` when given.
    fn relayed_reading(local_type: &str, protocol: Option<&str>) -> Vec<Stat> {
        let mut local = vec![("candidateType", text(local_type))];
        if let Some(protocol) = protocol {
            local.push(("relayProtocol", text(protocol)));
        }
        vec![
            stat("local-candidate", "L1", &local),
            stat(
                "remote-candidate",
                "R1",
                &[("candidateType", text("relay"))],
            ),
            // Another local relay candidate over UDP that is not on the media path.
            stat(
                "local-candidate",
                "L2",
                &[
                    ("candidateType", text("relay")),
                    ("relayProtocol", text("udp")),
                ],
            ),
            pair("P1", "L1", "R1", &[("selected", StatValue::Flag(true))]),
        ]
    }

    #[test]
    fn the_relay_transport_is_the_selected_local_relay_candidates_protocol() {
        for (protocol, expected) in [
            ("udp", RelayTransport::Udp),
            ("tcp", RelayTransport::Tcp),
            ("tls", RelayTransport::Tls),
        ] {
            let stats = relayed_reading("relay", Some(protocol));
            assert_eq!(relay_transport(&stats), Some(expected), "{protocol}");
        }
    }

    #[test]
    fn no_relay_transport_without_a_local_relay_on_the_path_or_a_known_protocol() {
        // Our end is direct: the relay is the other person's, not ours to name.
        assert_eq!(relay_transport(&relayed_reading("host", Some("tcp"))), None);
        // The browser does not say, or says something unknown.
        assert_eq!(relay_transport(&relayed_reading("relay", None)), None);
        assert_eq!(
            relay_transport(&relayed_reading("relay", Some("quic"))),
            None
        );
        // No selected pair at all.
        assert_eq!(relay_transport(&[]), None);
    }

    #[test]
    fn paths_have_the_words_the_page_shows() {
        assert_eq!(path_label(MediaPath::Direct), "Direct connection");
        assert_eq!(path_label(MediaPath::Relay), "Relayed through TURN");
    }

    #[test]
    fn elapsed_time_is_rounded_and_clamped() {
        assert_eq!(elapsed_ms(1000.0, 2234.4), 1234);
        assert_eq!(elapsed_ms(1000.0, 2234.6), 1235);
        assert_eq!(elapsed_ms(2000.0, 1000.0), 0);
        assert_eq!(elapsed_ms(0.0, 1e12), u32::MAX);
        assert_eq!(elapsed_ms(f64::NAN, 1.0), 0);
    }
}
