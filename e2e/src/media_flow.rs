//! What flows on a watched page's call, read by the test itself from `getStats()` and the
//! video sender's parameters (through the probe of [`Person::watch_peer_connections`]): bytes
//! of video sent and received, audio received, the encoded picture's width, and what the app
//! asked of the video sender.

use serde_json::Value;

use crate::person::Person;

/// One reading of a call's media counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaReading {
    /// `performance.now()` of the reading, in milliseconds.
    pub at_ms: f64,
    /// `bytesSent` of the outgoing video streams.
    pub video_sent: f64,
    /// `bytesReceived` of the incoming video streams.
    pub video_received: f64,
    /// `bytesReceived` of the incoming audio streams.
    pub audio_received: f64,
    /// `framesDecoded` of the incoming video.
    pub frames_decoded: f64,
    /// The encoded width of the main outgoing video stream (`frameWidth`), if it has one.
    pub sent_width: Option<f64>,
    /// The video sender's first encoding: `active`.
    pub encoding_active: Option<bool>,
    /// …its `scaleResolutionDownBy`.
    pub scale_down_by: Option<f64>,
    /// …its `maxBitrate`.
    pub max_bitrate: Option<f64>,
    /// The sender's `degradationPreference`.
    pub degradation: Option<&'static str>,
}

const MEDIA_SCRIPT: &str = r#"const done = arguments[arguments.length - 1];
const all = window.__visavisE2ePeerConnections;
if (!Array.isArray(all)) { done({ error: 'the peer-connection probe is not installed' }); return; }
const open = all.filter((pc) => pc.connectionState !== 'closed');
const pc = open[open.length - 1];
if (!pc) { done({ error: 'no open peer connection' }); return; }
const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
const params = sender ? sender.getParameters() : null;
const first = params && params.encodings && params.encodings[0] ? params.encodings[0] : null;
pc.getStats().then((report) => {
  const out = { at: performance.now(), videoSent: 0, videoReceived: 0, audioReceived: 0,
                framesDecoded: 0, width: null, widthBytes: -1,
                active: first ? first.active !== false : null,
                scale: first && first.scaleResolutionDownBy != null ? first.scaleResolutionDownBy : null,
                maxBitrate: first && first.maxBitrate != null ? first.maxBitrate : null,
                degradation: params ? (params.degradationPreference ?? null) : null };
  report.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.videoSent += s.bytesSent || 0;
      if ((s.bytesSent || 0) > out.widthBytes && s.frameWidth) { out.width = s.frameWidth; out.widthBytes = s.bytesSent || 0; }
    }
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.videoReceived += s.bytesReceived || 0;
      out.framesDecoded += s.framesDecoded || 0;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioReceived += s.bytesReceived || 0;
  });
  done(out);
}, (error) => done({ error: 'getStats failed: ' + error }));"#;

impl Person {
    /// Reads the call's media counters now (see [`MediaReading`]). Panics if the page has no
    /// watched, open peer connection.
    pub async fn media_reading(&self) -> MediaReading {
        let value = match self.client.execute_async(MEDIA_SCRIPT, vec![]).await {
            Ok(value) => value,
            Err(error) => panic!("{}: could not read the media counters: {error}", self.name),
        };
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            panic!("{}: {error}", self.name);
        }
        let number = |name: &str| value.get(name).and_then(Value::as_f64);
        MediaReading {
            at_ms: number("at").unwrap_or(0.0),
            video_sent: number("videoSent").unwrap_or(0.0),
            video_received: number("videoReceived").unwrap_or(0.0),
            audio_received: number("audioReceived").unwrap_or(0.0),
            frames_decoded: number("framesDecoded").unwrap_or(0.0),
            sent_width: number("width"),
            encoding_active: value.get("active").and_then(Value::as_bool),
            scale_down_by: number("scale"),
            max_bitrate: number("maxBitrate"),
            degradation: match value.get("degradation").and_then(Value::as_str) {
                Some("balanced") => Some("balanced"),
                Some("maintain-resolution") => Some("maintain-resolution"),
                Some("maintain-framerate") => Some("maintain-framerate"),
                _ => None,
            },
        }
    }

    /// A `data-*` attribute of the element with this id (`None` without the element or the
    /// attribute).
    pub async fn data_attribute(&self, id: &str, name: &str) -> Option<String> {
        let value = self
            .execute(
                "const e = document.getElementById(arguments[0]);\n\
                 return e ? e.getAttribute(arguments[1]) : null;",
                vec![Value::from(id), Value::from(name)],
            )
            .await;
        value.as_str().map(str::to_owned)
    }
}

/// The median of some durations or figures (`None` if there are none).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }
}
