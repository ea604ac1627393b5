//! Opus parameters set by SDP munging, done so that perfect negotiation is not disturbed.
//!
//! An `a=fmtp` line says what the *sender of that description* wants to receive, and the other
//! side's encoder follows it. So adding `useinbandfec=1` to the Opus format of the **remote**
//! description, before `setRemoteDescription`, tells *our* encoder that the other side decodes
//! in-band forward error correction, and our audio then carries FEC: a lost packet is rebuilt
//! from the next one, which keeps speech clear on a lossy mobile link. Any Opus decoder can use
//! it, so this promises nothing the other side cannot do.
//!
//! Why the remote description and not the local one: the client applies its own descriptions
//! with `setLocalDescription()` without arguments (the browser builds the right offer or answer
//! for the current state, which perfect negotiation relies on for rollbacks and glare), so
//! there is nothing to munge there. The remote description is plain text we hand to the
//! browser; changing one parameter of one format changes no m-line, direction, ICE or DTLS
//! attribute, so every negotiation rule (who offers, rollbacks, ICE restarts) is unchanged.
//!
//! Browsers already ask for FEC today (Chromium and Firefox offer `useinbandfec=1`); this
//! makes sure of it for one that does not, e.g. an older or stripped-down client.

/// The Opus parameter asking the other side's encoder for in-band FEC.
const INBAND_FEC: &str = "useinbandfec";

/// `sdp` with `useinbandfec=1` on every Opus format that does not set `useinbandfec` itself:
/// added to its `a=fmtp` line, or in a new `a=fmtp` line right after its `a=rtpmap` line if it
/// has none. An explicit `useinbandfec=0` is left alone (the other side said no), and every
/// other line is kept byte for byte, line endings included.
pub fn with_opus_fec(sdp: &str) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = sdp.split(eol).collect();
    let opus: Vec<&str> = lines.iter().filter_map(|line| opus_payload(line)).collect();
    if opus.is_empty() {
        return sdp.to_owned();
    }
    let has_fmtp = |pt: &str| lines.iter().any(|line| fmtp_of(line) == Some(pt));
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + opus.len());
    for line in &lines {
        match fmtp_of(line) {
            Some(pt) if opus.contains(&pt) && !sets_fec(line) => {
                let params = line.split_once(' ').map_or("", |(_, p)| p.trim());
                out.push(if params.is_empty() {
                    format!("a=fmtp:{pt} {INBAND_FEC}=1")
                } else {
                    format!("{line};{INBAND_FEC}=1")
                });
            }
            _ => out.push((*line).to_owned()),
        }
        if let Some(pt) = opus_payload(line) {
            if !has_fmtp(pt) {
                out.push(format!("a=fmtp:{pt} {INBAND_FEC}=1"));
            }
        }
    }
    out.join(eol)
}

/// The payload type of an `a=rtpmap:<pt> opus/48000/2` line.
fn opus_payload(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("a=rtpmap:")?;
    let (pt, codec) = rest.split_once(' ')?;
    let name = codec.split('/').next()?;
    name.eq_ignore_ascii_case("opus").then_some(pt)
}

/// The payload type of an `a=fmtp:<pt> ...` line.
fn fmtp_of(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("a=fmtp:")?;
    Some(rest.split_once(' ').map_or(rest, |(pt, _)| pt))
}

/// Whether an `a=fmtp` line sets `useinbandfec` (to anything).
fn sets_fec(line: &str) -> bool {
    line.split_once(' ').is_some_and(|(_, params)| {
        params
            .split(';')
            .any(|param| param.trim().split('=').next() == Some(INBAND_FEC))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

    fn audio(lines: &[&str]) -> String {
        let mut sdp = String::from(HEAD);
        sdp.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n");
        for line in lines {
            sdp.push_str(line);
            sdp.push_str("\r\n");
        }
        sdp
    }

    #[test]
    fn fec_is_added_to_an_opus_fmtp_line_without_it() {
        let sdp = audio(&[
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10",
            "a=rtpmap:0 PCMU/8000",
        ]);
        let munged = with_opus_fec(&sdp);
        assert_eq!(
            munged,
            audio(&[
                "a=rtpmap:111 opus/48000/2",
                "a=fmtp:111 minptime=10;useinbandfec=1",
                "a=rtpmap:0 PCMU/8000",
            ])
        );
    }

    #[test]
    fn a_description_that_already_asks_for_fec_is_unchanged() {
        // What Chromium offers.
        let sdp = audio(&[
            "a=rtpmap:111 opus/48000/2",
            "a=rtcp-fb:111 transport-cc",
            "a=fmtp:111 minptime=10;useinbandfec=1",
        ]);
        assert_eq!(with_opus_fec(&sdp), sdp);
    }

    #[test]
    fn an_explicit_no_is_respected() {
        let sdp = audio(&[
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 useinbandfec=0;minptime=10",
        ]);
        assert_eq!(with_opus_fec(&sdp), sdp);
    }

    #[test]
    fn an_opus_format_without_fmtp_gets_one_after_its_rtpmap() {
        let sdp = audio(&["a=rtpmap:109 OPUS/48000/2", "a=rtpmap:0 PCMU/8000"]);
        assert_eq!(
            with_opus_fec(&sdp),
            audio(&[
                "a=rtpmap:109 OPUS/48000/2",
                "a=fmtp:109 useinbandfec=1",
                "a=rtpmap:0 PCMU/8000",
            ])
        );
    }

    #[test]
    fn other_codecs_and_video_are_untouched() {
        let mut sdp = audio(&["a=rtpmap:0 PCMU/8000", "a=fmtp:0 foo=1"]);
        sdp.push_str(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\n",
        );
        assert_eq!(with_opus_fec(&sdp), sdp);
    }

    #[test]
    fn every_opus_format_of_every_audio_section_is_covered() {
        let mut sdp = audio(&["a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10"]);
        sdp.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 112\r\na=rtpmap:112 opus/48000/2\r\n");
        let munged = with_opus_fec(&sdp);
        assert!(munged.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
        assert!(munged.contains("a=rtpmap:112 opus/48000/2\r\na=fmtp:112 useinbandfec=1\r\n"));
        // Nothing but the parameters changed: the same lines otherwise, in the same order.
        assert_eq!(munged.lines().count(), sdp.lines().count() + 1);
    }

    #[test]
    fn a_parameter_named_like_fec_does_not_count_as_fec() {
        let sdp = audio(&["a=rtpmap:111 opus/48000/2", "a=fmtp:111 xuseinbandfec=1"]);
        assert!(with_opus_fec(&sdp).contains("a=fmtp:111 xuseinbandfec=1;useinbandfec=1"));
    }

    #[test]
    fn unix_line_endings_are_kept() {
        let sdp = "v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10\n";
        assert_eq!(
            with_opus_fec(sdp),
            "v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10;useinbandfec=1\n"
        );
    }

    #[test]
    fn a_description_without_opus_is_returned_as_it_is() {
        assert_eq!(with_opus_fec(""), "");
        assert_eq!(with_opus_fec("v=0\r\n"), "v=0\r\n");
    }
}
