//! The live call statistics, pure: turns two consecutive `getStats()` readings into what the
//! statistics panel shows (bitrates, loss, jitter, round-trip time, codecs, picture sizes and
//! frame rates, the candidate types of the media path). No browser types, so it is unit-tested
//! natively; the browser crate's `controller/stats_loop.rs` reads the stats once a second and
//! records the result in a [`LiveStats`](super::LiveStats).

use visavis_shared::RelayTransport;

use crate::stats::{self, Stat};

/// Which kind of track an RTP stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Audio,
    Video,
}

/// The stats entry types and byte counter of one direction.
#[derive(Debug, Clone, Copy)]
struct Side {
    rtp: &'static str,
    bytes: &'static str,
}

const SENDING: Side = Side {
    rtp: "outbound-rtp",
    bytes: "bytesSent",
};

const RECEIVING: Side = Side {
    rtp: "inbound-rtp",
    bytes: "bytesReceived",
};

/// What one direction of the call carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Direction {
    /// The video codec's name (`VP8`, `H264`…), from the codec entry the stream names.
    pub video_codec: Option<String>,
    /// The audio codec's name (`opus`…).
    pub audio_codec: Option<String>,
    /// The video picture's width and height in pixels.
    pub resolution: Option<(u32, u32)>,
    /// Video frames per second.
    pub frame_rate: Option<f64>,
    /// Bits per second of RTP payload and headers, audio and video together; `None` without an
    /// earlier reading to compare with.
    pub bitrate_bps: Option<f64>,
}

/// Everything the panel shows about one moment of the call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// What we send.
    pub send: Direction,
    /// What we receive.
    pub receive: Direction,
    /// The media path's current round-trip time, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The share of the packets sent to us since the last reading that were lost, in percent;
    /// `None` without an earlier reading or when no packet was due.
    pub loss_percent: Option<f64>,
    /// The receive jitter in milliseconds: the worst of the incoming streams.
    pub jitter_ms: Option<f64>,
    /// The type of our end of the media path (`host`, `srflx`, `prflx`, `relay`).
    pub local_candidate: Option<String>,
    /// The type of the other person's end of the media path.
    pub remote_candidate: Option<String>,
    /// How we reach our relay (UDP, TCP or TLS), when our end of the path is a relay candidate.
    pub relay_transport: Option<RelayTransport>,
}

/// Builds a snapshot from the `current` reading, with rates and loss from the difference to the
/// `previous` one (if any). Streams are matched by their entry id, so a stream that appears or
/// goes away between the readings does not distort the rates; a counter that went backwards (a
/// stream replaced under the same id) is skipped for that interval.
pub fn snapshot(previous: Option<&[Stat]>, current: &[Stat]) -> Snapshot {
    let pair = stats::selected_pair(current);
    let candidate = |kind: &str, id_field: &str| {
        pair.and_then(|pair| stats::candidate_type(current, kind, pair.text(id_field)))
            .map(str::to_owned)
    };
    Snapshot {
        send: direction(previous, current, SENDING),
        receive: direction(previous, current, RECEIVING),
        rtt_ms: round_trip_ms(pair, current),
        loss_percent: previous.and_then(|previous| loss_percent(previous, current)),
        jitter_ms: rtp(current, RECEIVING)
            .filter_map(|entry| entry.number("jitter"))
            .map(|seconds| seconds * 1000.0)
            .reduce(f64::max),
        local_candidate: candidate("local-candidate", "localCandidateId"),
        remote_candidate: candidate("remote-candidate", "remoteCandidateId"),
        relay_transport: stats::relay_transport(current),
    }
}

/// The RTP entries of one direction.
fn rtp(stats: &[Stat], side: Side) -> impl Iterator<Item = &Stat> {
    stats.iter().filter(move |entry| entry.is(side.rtp))
}

/// The kind of an RTP entry: `kind`, or `mediaType` in older browsers.
fn media_kind(entry: &Stat) -> Option<MediaKind> {
    match entry.text("kind").or_else(|| entry.text("mediaType"))? {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}

/// The main stream of `kind` in one direction: the one that carried the most bytes, so a
/// stream left over from a replaced track or an inactive layer is not the one described.
fn main_stream(stats: &[Stat], side: Side, kind: MediaKind) -> Option<&Stat> {
    rtp(stats, side)
        .filter(|entry| media_kind(entry) == Some(kind))
        .max_by(|a, b| {
            let bytes = |entry: &Stat| entry.number(side.bytes).unwrap_or(0.0);
            bytes(a).total_cmp(&bytes(b))
        })
}

/// The codec name of an RTP entry, from the `codec` entry its `codecId` names: the subtype of
/// the codec's MIME type (`video/VP8` → `VP8`).
fn codec_name(stats: &[Stat], entry: &Stat) -> Option<String> {
    let id = entry.text("codecId")?;
    let mime = stats
        .iter()
        .find(|codec| codec.is("codec") && codec.id == id)?
        .text("mimeType")?;
    let name = mime.split_once('/').map_or(mime, |(_, subtype)| subtype);
    (!name.is_empty()).then(|| name.to_owned())
}

fn direction(previous: Option<&[Stat]>, current: &[Stat], side: Side) -> Direction {
    let video = main_stream(current, side, MediaKind::Video);
    let audio = main_stream(current, side, MediaKind::Audio);
    let pixels = |name: &str| {
        video
            .and_then(|entry| entry.number(name))
            .filter(|&n| n >= 1.0 && n <= f64::from(u32::MAX))
            // Whole, positive and in range, so the cast is exact.
            .map(|n| n.round() as u32)
    };
    Direction {
        video_codec: video.and_then(|entry| codec_name(current, entry)),
        audio_codec: audio.and_then(|entry| codec_name(current, entry)),
        resolution: pixels("frameWidth").zip(pixels("frameHeight")),
        frame_rate: video
            .and_then(|entry| entry.number("framesPerSecond"))
            .filter(|&fps| fps >= 0.0),
        bitrate_bps: previous.and_then(|previous| bitrate_bps(previous, current, side)),
    }
}

/// The entry of `previous` with the same type and id as `entry`.
fn earlier<'a>(previous: &'a [Stat], entry: &Stat) -> Option<&'a Stat> {
    previous
        .iter()
        .find(|before| before.kind == entry.kind && before.id == entry.id)
}

/// The bits per second of one direction: each stream's byte delta over its own time delta
/// (entries carry their own `timestamp`, in milliseconds), summed over the streams present in
/// both readings.
fn bitrate_bps(previous: &[Stat], current: &[Stat], side: Side) -> Option<f64> {
    rtp(current, side)
        .filter_map(|now| {
            let before = earlier(previous, now)?;
            let seconds = (now.number("timestamp")? - before.number("timestamp")?) / 1000.0;
            let bytes = now.number(side.bytes)? - before.number(side.bytes)?;
            (seconds > 0.0 && bytes >= 0.0).then(|| bytes * 8.0 / seconds)
        })
        .reduce(|a, b| a + b)
}

/// The share of the packets due since the last reading that were lost, over all incoming
/// streams. `packetsLost` may go down (late packets arrive after all), so a stream's lost count
/// never goes below zero for an interval.
fn loss_percent(previous: &[Stat], current: &[Stat]) -> Option<f64> {
    let mut lost = 0.0;
    let mut received = 0.0;
    let mut matched = false;
    for now in rtp(current, RECEIVING) {
        let Some(before) = earlier(previous, now) else {
            continue;
        };
        let delta = |name: &str| Some(now.number(name)? - before.number(name)?);
        let (Some(got), Some(missed)) = (delta("packetsReceived"), delta("packetsLost")) else {
            continue;
        };
        if got < 0.0 {
            continue;
        }
        matched = true;
        received += got;
        lost += missed.max(0.0);
    }
    let due = lost + received;
    (matched && due > 0.0).then(|| lost / due * 100.0)
}

/// The round-trip time of the media path: the selected candidate pair's
/// `currentRoundTripTime`; where the browser does not fill that in, the other side's report on
/// what we send (`remote-inbound-rtp` `roundTripTime`, the worst of them).
fn round_trip_ms(pair: Option<&Stat>, current: &[Stat]) -> Option<f64> {
    let seconds = pair
        .and_then(|pair| pair.number("currentRoundTripTime"))
        .or_else(|| {
            current
                .iter()
                .filter(|entry| entry.is("remote-inbound-rtp"))
                .filter_map(|entry| entry.number("roundTripTime"))
                .reduce(f64::max)
        })?;
    (seconds >= 0.0).then_some(seconds * 1000.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::StatValue;

    fn text(value: &str) -> StatValue {
        StatValue::Text(value.into())
    }

    fn number(value: f64) -> StatValue {
        StatValue::Number(value)
    }

    fn stat(kind: &str, id: &str, fields: Vec<(&str, StatValue)>) -> Stat {
        Stat {
            kind: kind.into(),
            id: id.into(),
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        }
    }

    /// An RTP entry of `kind` (`inbound-rtp`/`outbound-rtp`) carrying `media`.
    fn rtp_entry(kind: &str, id: &str, media: &str, fields: Vec<(&str, StatValue)>) -> Stat {
        let mut all = vec![("kind", text(media))];
        all.extend(fields);
        stat(kind, id, all)
    }

    /// One reading at `at_ms`: an outgoing and an incoming video stream with byte and packet
    /// counters, their codecs, and a selected candidate pair.
    pub(crate) fn reading(
        at_ms: f64,
        sent: f64,
        received: f64,
        packets: f64,
        lost: f64,
    ) -> Vec<Stat> {
        vec![
            rtp_entry(
                "outbound-rtp",
                "OV",
                "video",
                vec![
                    ("timestamp", number(at_ms)),
                    ("bytesSent", number(sent)),
                    ("codecId", text("C1")),
                    ("frameWidth", number(640.0)),
                    ("frameHeight", number(480.0)),
                    ("framesPerSecond", number(30.0)),
                ],
            ),
            rtp_entry(
                "inbound-rtp",
                "IV",
                "video",
                vec![
                    ("timestamp", number(at_ms)),
                    ("bytesReceived", number(received)),
                    ("packetsReceived", number(packets)),
                    ("packetsLost", number(lost)),
                    ("jitter", number(0.004)),
                    ("codecId", text("C2")),
                    ("frameWidth", number(1280.0)),
                    ("frameHeight", number(720.0)),
                    ("framesPerSecond", number(24.0)),
                ],
            ),
            stat("codec", "C1", vec![("mimeType", text("video/VP8"))]),
            stat("codec", "C2", vec![("mimeType", text("video/H264"))]),
            stat(
                "transport",
                "T",
                vec![("selectedCandidatePairId", text("P"))],
            ),
            stat(
                "candidate-pair",
                "P",
                vec![
                    ("localCandidateId", text("L")),
                    ("remoteCandidateId", text("R")),
                    ("currentRoundTripTime", number(0.025)),
                ],
            ),
            stat(
                "local-candidate",
                "L",
                vec![("candidateType", text("host"))],
            ),
            stat(
                "remote-candidate",
                "R",
                vec![("candidateType", text("srflx"))],
            ),
        ]
    }

    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|value| (value - expected).abs() < 1e-6)
    }

    #[test]
    fn the_first_reading_has_no_rates_and_no_loss_but_everything_else() {
        let snapshot = snapshot(None, &reading(1000.0, 5000.0, 9000.0, 100.0, 0.0));
        assert_eq!(snapshot.send.bitrate_bps, None);
        assert_eq!(snapshot.receive.bitrate_bps, None);
        assert_eq!(snapshot.loss_percent, None);
        assert_eq!(snapshot.send.video_codec.as_deref(), Some("VP8"));
        assert_eq!(snapshot.receive.resolution, Some((1280, 720)));
        assert!(close(snapshot.rtt_ms, 25.0));
        assert!(close(snapshot.jitter_ms, 4.0));
    }

    #[test]
    fn rates_come_from_byte_deltas_over_the_entries_own_time() {
        let before = reading(1000.0, 5_000.0, 10_000.0, 100.0, 0.0);
        // Two seconds later: 25 000 bytes more sent, 50 000 more received.
        let now = reading(3000.0, 30_000.0, 60_000.0, 200.0, 0.0);
        let snapshot = snapshot(Some(&before), &now);
        assert!(close(snapshot.send.bitrate_bps, 100_000.0));
        assert!(close(snapshot.receive.bitrate_bps, 200_000.0));
    }

    #[test]
    fn rates_add_up_the_streams_of_a_direction() {
        let mut before = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        let mut now = reading(2000.0, 1000.0, 0.0, 0.0, 0.0);
        before.push(rtp_entry(
            "outbound-rtp",
            "OA",
            "audio",
            vec![("timestamp", number(1000.0)), ("bytesSent", number(0.0))],
        ));
        now.push(rtp_entry(
            "outbound-rtp",
            "OA",
            "audio",
            vec![("timestamp", number(2000.0)), ("bytesSent", number(500.0))],
        ));
        assert!(close(
            snapshot(Some(&before), &now).send.bitrate_bps,
            12_000.0
        ));
    }

    #[test]
    fn a_stream_new_since_the_last_reading_or_reset_does_not_count() {
        let before = reading(1000.0, 1000.0, 1000.0, 10.0, 0.0);
        let mut now = reading(2000.0, 2000.0, 500.0, 20.0, 0.0);
        // A stream only in the current reading has no delta yet.
        now.push(rtp_entry(
            "outbound-rtp",
            "NEW",
            "audio",
            vec![("timestamp", number(2000.0)), ("bytesSent", number(1e9))],
        ));
        let snapshot = snapshot(Some(&before), &now);
        assert!(close(snapshot.send.bitrate_bps, 8000.0));
        // The incoming counter went backwards: no rate rather than a negative one.
        assert_eq!(snapshot.receive.bitrate_bps, None);
    }

    #[test]
    fn loss_is_the_share_of_packets_lost_since_the_last_reading() {
        let before = reading(1000.0, 0.0, 0.0, 1000.0, 50.0);
        // 90 packets arrived and 10 more were lost in the interval: 10 %. The 50 lost before
        // do not count.
        let now = reading(2000.0, 0.0, 0.0, 1090.0, 60.0);
        assert!(close(snapshot(Some(&before), &now).loss_percent, 10.0));

        // Packets counted lost that arrive late make the lost count go down: no negative loss.
        let late = reading(3000.0, 0.0, 0.0, 1190.0, 55.0);
        assert!(close(snapshot(Some(&now), &late).loss_percent, 0.0));

        // Nothing due in the interval: no figure rather than 0 %.
        assert_eq!(snapshot(Some(&now), &now).loss_percent, None);
    }

    #[test]
    fn jitter_is_the_worst_incoming_stream_in_milliseconds() {
        let mut now = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        now.push(rtp_entry(
            "inbound-rtp",
            "IA",
            "audio",
            vec![("jitter", number(0.012))],
        ));
        assert!(close(snapshot(None, &now).jitter_ms, 12.0));
        assert_eq!(snapshot(None, &[]).jitter_ms, None);
    }

    #[test]
    fn the_round_trip_time_is_the_selected_pairs() {
        let mut now = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        // Another pair with a different time is not the media path.
        now.push(stat(
            "candidate-pair",
            "OTHER",
            vec![("currentRoundTripTime", number(0.5))],
        ));
        assert!(close(snapshot(None, &now).rtt_ms, 25.0));
    }

    #[test]
    fn a_nominated_succeeded_pair_gives_the_round_trip_time_without_a_transport_entry() {
        let now = vec![
            stat(
                "candidate-pair",
                "P1",
                vec![
                    ("nominated", StatValue::Flag(true)),
                    ("state", text("in-progress")),
                    ("currentRoundTripTime", number(0.9)),
                ],
            ),
            stat(
                "candidate-pair",
                "P2",
                vec![
                    ("nominated", StatValue::Flag(true)),
                    ("state", text("succeeded")),
                    ("currentRoundTripTime", number(0.0125)),
                ],
            ),
        ];
        assert!(close(snapshot(None, &now).rtt_ms, 12.5));
    }

    #[test]
    fn without_a_pair_time_the_round_trip_comes_from_the_remote_report() {
        let now = vec![
            stat(
                "remote-inbound-rtp",
                "RA",
                vec![("roundTripTime", number(0.03))],
            ),
            stat(
                "remote-inbound-rtp",
                "RV",
                vec![("roundTripTime", number(0.04))],
            ),
        ];
        assert!(close(snapshot(None, &now).rtt_ms, 40.0));
        assert_eq!(snapshot(None, &[]).rtt_ms, None);
    }

    #[test]
    fn codecs_are_looked_up_by_the_codec_id_of_each_stream() {
        let mut now = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        now.push(rtp_entry(
            "inbound-rtp",
            "IA",
            "audio",
            vec![("codecId", text("C3"))],
        ));
        now.push(stat("codec", "C3", vec![("mimeType", text("audio/opus"))]));
        // An audio stream naming a codec entry that is not there has no codec.
        now.push(rtp_entry(
            "outbound-rtp",
            "OA",
            "audio",
            vec![("codecId", text("missing"))],
        ));
        let snapshot = snapshot(None, &now);
        assert_eq!(snapshot.send.video_codec.as_deref(), Some("VP8"));
        assert_eq!(snapshot.receive.video_codec.as_deref(), Some("H264"));
        assert_eq!(snapshot.receive.audio_codec.as_deref(), Some("opus"));
        assert_eq!(snapshot.send.audio_codec, None);
    }

    #[test]
    fn resolution_and_frame_rate_are_those_of_each_directions_video() {
        let snapshot = snapshot(None, &reading(1000.0, 0.0, 0.0, 0.0, 0.0));
        assert_eq!(snapshot.send.resolution, Some((640, 480)));
        assert_eq!(snapshot.send.frame_rate, Some(30.0));
        assert_eq!(snapshot.receive.resolution, Some((1280, 720)));
        assert_eq!(snapshot.receive.frame_rate, Some(24.0));
    }

    #[test]
    fn the_video_that_carried_the_most_bytes_is_described() {
        let now = vec![
            rtp_entry(
                "inbound-rtp",
                "OLD",
                "video",
                vec![
                    ("bytesReceived", number(10.0)),
                    ("frameWidth", number(320.0)),
                    ("frameHeight", number(240.0)),
                ],
            ),
            rtp_entry(
                "inbound-rtp",
                "MAIN",
                "video",
                vec![
                    ("mediaType", text("video")),
                    ("bytesReceived", number(9000.0)),
                    ("frameWidth", number(640.0)),
                    ("frameHeight", number(360.0)),
                ],
            ),
        ];
        assert_eq!(snapshot(None, &now).receive.resolution, Some((640, 360)));
    }

    #[test]
    fn an_rtp_entry_with_only_the_older_media_type_field_is_understood() {
        let now = vec![stat(
            "inbound-rtp",
            "I",
            vec![
                ("mediaType", text("video")),
                ("frameWidth", number(320.0)),
                ("frameHeight", number(180.0)),
            ],
        )];
        assert_eq!(snapshot(None, &now).receive.resolution, Some((320, 180)));
    }

    #[test]
    fn no_picture_size_is_shown_before_a_frame() {
        let now = vec![rtp_entry(
            "inbound-rtp",
            "I",
            "video",
            vec![("frameWidth", number(0.0)), ("frameHeight", number(0.0))],
        )];
        assert_eq!(snapshot(None, &now).receive.resolution, None);
    }

    #[test]
    fn the_candidate_types_are_those_of_the_selected_pair() {
        let snapshot = snapshot(None, &reading(1000.0, 0.0, 0.0, 0.0, 0.0));
        assert_eq!(snapshot.local_candidate.as_deref(), Some("host"));
        assert_eq!(snapshot.remote_candidate.as_deref(), Some("srflx"));
        let empty = super::snapshot(None, &[]);
        assert_eq!(empty.local_candidate, None);
        assert_eq!(empty.remote_candidate, None);
    }

    #[test]
    fn the_relay_transport_is_read_only_for_a_local_relay_candidate() {
        // The reading's local end is a host candidate: no relay transport to show.
        let mut now = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        assert_eq!(snapshot(None, &now).relay_transport, None);
        let local = now
            .iter_mut()
            .find(|entry| entry.is("local-candidate"))
            .expect("the reading has a local candidate");
        local.fields = vec![
            ("candidateType".into(), text("relay")),
            ("relayProtocol".into(), text("tls")),
        ];
        assert_eq!(
            snapshot(None, &now).relay_transport,
            Some(RelayTransport::Tls)
        );
    }
}
