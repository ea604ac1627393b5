//! Measurements a test takes itself, independently of what the app displays: what a `<video>`
//! shows, whether camera tracks ended, and (through a probe installed before the app's scripts)
//! the peer connections' `getStats()` candidate pairs and ICE errors.

use serde_json::{json, Value};

use crate::browser::BrowserKind;
use crate::person::Person;
use crate::wait::STEP_TIMEOUT;

/// What a `<video>` element shows at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VideoSample {
    /// `videoWidth`: 0 until a frame of the stream is known.
    pub width: u64,
    /// `videoHeight`.
    pub height: u64,
    /// `getVideoPlaybackQuality().totalVideoFrames` (stays 0 in headless Firefox).
    pub frames: u64,
    /// `currentTime`, in seconds: advances while the video plays.
    pub current_time: f64,
}

/// What the hang-up script saw on the page that hung up.
#[derive(Debug, Clone)]
pub struct HangUpReport {
    /// The call state when the script returned (`ended` unless it gave up).
    pub state: String,
    /// `kind:readyState` of every track of the local stream taken before the click.
    pub tracks: Vec<String>,
    /// Whether there was at least one track and all of them had ended.
    pub all_tracks_ended: bool,
}

/// One ICE candidate of a candidate pair, as `getStats()` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateInfo {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: String,
    /// The candidate's IP address (for a local relay candidate: the relay's address).
    pub address: String,
    /// The candidate's port (for a local relay candidate: the relayed port).
    pub port: u16,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// For a local relay candidate: how the browser reaches the relay (`udp`, `tcp`, `tls`).
    pub relay_protocol: Option<String>,
    /// For a local relay or srflx candidate: the ICE server URL it came from.
    pub url: Option<String>,
}

impl CandidateInfo {
    fn from_stats(value: &Value) -> CandidateInfo {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        CandidateInfo {
            candidate_type: text("type").unwrap_or_default(),
            address: text("address").unwrap_or_default(),
            port: value["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            protocol: text("protocol").unwrap_or_default(),
            relay_protocol: text("relayProtocol"),
            url: text("url"),
        }
    }
}

/// The candidate pair a peer connection sends media over, read by the test itself from
/// `getStats()` (see [`Person::selected_pair`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectedPair {
    /// The connection's `iceTransportPolicy` (`all` or `relay`).
    pub policy: String,
    /// The ICE server URLs in the connection's configuration.
    pub ice_server_urls: Vec<String>,
    /// The connection's `connectionState`.
    pub connection_state: String,
    /// This browser's candidate.
    pub local: CandidateInfo,
    /// The other browser's candidate.
    pub remote: CandidateInfo,
    /// Bytes sent over the pair so far.
    pub bytes_sent: u64,
    /// Bytes received over the pair so far.
    pub bytes_received: u64,
}

impl SelectedPair {
    /// Whether either side of the pair is a relay candidate.
    pub fn is_relayed(&self) -> bool {
        self.local.candidate_type == "relay" || self.remote.candidate_type == "relay"
    }
}

/// Runs before the app's own scripts on every page of a watched session (see
/// [`Person::watch_peer_connections`]): replaces `RTCPeerConnection` by a subclass that keeps
/// every connection in `window.__visavisE2ePeerConnections`, so the test can read `getStats()`
/// itself, and every `icecandidateerror` in `window.__visavisE2eIceErrors`. If the test has set
/// `window.__visavisE2eIceOverride = {username, credential}`, the subclass puts those into every
/// `turn:`/`turns:` server of the configuration, on creation and on `setConfiguration`;
/// otherwise the configuration passes unchanged.
const PEER_CONNECTION_PROBE: &str = r#"(() => {
  const Native = window.RTCPeerConnection;
  if (typeof Native !== 'function' || Native.__visavisE2eProbe) return;
  const connections = [];
  const errors = [];
  const rewrite = (config) => {
    const override = window.__visavisE2eIceOverride;
    if (!override || !config || !Array.isArray(config.iceServers)) return config;
    const servers = config.iceServers.map((server) => {
      const urls = [].concat(server.urls || []);
      if (!urls.some((u) => /^turns?:/i.test(String(u)))) return server;
      return Object.assign({}, server,
        { username: override.username, credential: override.credential });
    });
    return Object.assign({}, config, { iceServers: servers });
  };
  class ProbedPeerConnection extends Native {
    constructor(config, ...rest) {
      super(rewrite(config), ...rest);
      connections.push(this);
      this.addEventListener('icecandidateerror', (e) => {
        errors.push({ url: String(e.url ?? ''), code: Number(e.errorCode ?? 0),
                      text: String(e.errorText ?? '') });
      });
    }
    setConfiguration(config) {
      return super.setConfiguration(rewrite(config));
    }
  }
  ProbedPeerConnection.__visavisE2eProbe = true;
  window.RTCPeerConnection = ProbedPeerConnection;
  window.__visavisE2ePeerConnections = connections;
  window.__visavisE2eIceErrors = errors;
})();"#;

/// Reads the selected candidate pair of the newest open peer connection the probe saw, from
/// `getStats()`: the transport's `selectedCandidatePairId`, else a nominated succeeded pair.
const SELECTED_PAIR_SCRIPT: &str = r#"const done = arguments[arguments.length - 1];
const all = window.__visavisE2ePeerConnections;
if (!Array.isArray(all)) { done({ error: 'the peer-connection probe is not installed' }); return; }
const open = all.filter((pc) => pc.connectionState !== 'closed');
const pc = open[open.length - 1];
if (!pc) { done({ error: 'no open peer connection (' + all.length + ' seen)' }); return; }
const config = pc.getConfiguration();
const urls = [];
for (const server of config.iceServers || []) urls.push(...[].concat(server.urls || []));
pc.getStats().then((report) => {
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) report.forEach((s) => {
    if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
  });
  const describe = (c) => c ? { type: c.candidateType ?? null, address: c.address ?? c.ip ?? null,
      port: c.port ?? null, protocol: c.protocol ?? null, relayProtocol: c.relayProtocol ?? null,
      url: c.url ?? null } : null;
  done({
    connectionState: pc.connectionState,
    policy: config.iceTransportPolicy ?? null,
    iceServerUrls: urls,
    pair: pair ? { state: pair.state, bytesSent: pair.bytesSent ?? 0,
                   bytesReceived: pair.bytesReceived ?? 0,
                   local: describe(byId.get(pair.localCandidateId)),
                   remote: describe(byId.get(pair.remoteCandidateId)) } : null,
  });
}, (error) => done({ error: 'getStats failed: ' + error }));"#;

impl Person {
    /// What the `<video>` element with this id shows now (`None` if there is no such element
    /// or the page could not be read).
    pub async fn video_sample(&self, id: &str) -> Option<VideoSample> {
        let value = self
            .client
            .execute(
                "const v = document.getElementById(arguments[0]);\n\
                 if (!v || typeof v.videoWidth !== 'number') return null;\n\
                 const q = typeof v.getVideoPlaybackQuality === 'function'\n\
                     ? v.getVideoPlaybackQuality() : null;\n\
                 return { width: v.videoWidth, height: v.videoHeight,\n\
                          frames: q ? q.totalVideoFrames : 0,\n\
                          currentTime: Number(v.currentTime) || 0 };",
                vec![json!(id)],
            )
            .await
            .ok()?;
        Some(VideoSample {
            width: value.get("width")?.as_u64()?,
            height: value.get("height")?.as_u64()?,
            frames: value.get("frames")?.as_u64()?,
            current_time: value
                .get("currentTime")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        })
    }

    /// Keeps a reference to the current local camera stream in a property of the test's own
    /// (`window.__visavisE2eStream`), to check later that its tracks were stopped. Returns the
    /// number of tracks.
    pub async fn remember_local_stream(&self) -> u64 {
        self.execute(
            "const s = document.getElementById('localVideo').srcObject;\n\
             window.__visavisE2eStream = s;\n\
             return s && typeof s.getTracks === 'function' ? s.getTracks().length : 0;",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// The `kind:readyState` of each track of the stream kept by
    /// [`Person::remember_local_stream`], and whether there was one and all have ended.
    pub async fn remembered_stream_tracks(&self) -> (Vec<String>, bool) {
        let value = self
            .execute(
                "const s = window.__visavisE2eStream;\n\
                 const tracks = s && typeof s.getTracks === 'function' ? s.getTracks() : [];\n\
                 return { tracks: tracks.map(t => t.kind + ':' + t.readyState),\n\
                          allEnded: tracks.length > 0\n\
                              && tracks.every(t => t.readyState === 'ended') };",
                vec![],
            )
            .await;
        (
            string_list(&value["tracks"]),
            value["allEnded"] == json!(true),
        )
    }

    /// In one script: takes the local video's stream, clicks `hangupButton`, polls until the
    /// call state is `ended`, and reports whether every track of that stream has ended.
    pub async fn hang_up_and_check_camera(&self) -> HangUpReport {
        let script = "const done = arguments[arguments.length - 1];\n\
            const limitMs = arguments[0];\n\
            const v = document.getElementById('localVideo');\n\
            const s = v ? v.srcObject : null;\n\
            const describe = () => {\n\
                const tracks = s && typeof s.getTracks === 'function' ? s.getTracks() : [];\n\
                return { state: document.body.dataset.callState ?? null,\n\
                         tracks: tracks.map(t => t.kind + ':' + t.readyState),\n\
                         allEnded: tracks.length > 0\n\
                             && tracks.every(t => t.readyState === 'ended') };\n\
            };\n\
            document.getElementById('hangupButton').click();\n\
            const started = Date.now();\n\
            const poll = () => {\n\
                if (document.body.dataset.callState === 'ended'\n\
                        || Date.now() - started > limitMs) {\n\
                    done(describe());\n\
                } else {\n\
                    setTimeout(poll, 50);\n\
                }\n\
            };\n\
            poll();";
        let limit_ms = STEP_TIMEOUT.as_millis() as u64;
        let value = match self
            .client
            .execute_async(script, vec![json!(limit_ms)])
            .await
        {
            Ok(value) => value,
            Err(error) => panic!("{}: the hang-up script failed: {error}", self.name),
        };
        HangUpReport {
            state: value["state"].as_str().unwrap_or("<unset>").to_owned(),
            tracks: string_list(&value["tracks"]),
            all_tracks_ended: value["allEnded"] == json!(true),
        }
    }

    /// From now on, every page this person opens gets the peer-connection probe before the
    /// app's own scripts run (a DevTools `Page.addScriptToEvaluateOnNewDocument`), so that
    /// [`Person::selected_pair`] can read `getStats()` independently of the app. Call it before
    /// [`Person::open`].
    pub async fn watch_peer_connections(&self) {
        let installed = self
            .devtools(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PEER_CONNECTION_PROBE }),
            )
            .await;
        if let Err(error) = installed {
            panic!(
                "{}: could not install the peer-connection probe: {error}",
                self.name
            );
        }
    }

    /// Makes the probe (see [`Person::watch_peer_connections`]) hand the browser these TURN
    /// credentials instead of the app's, for peer connections created from now on in this
    /// page. For testing what the page does with credentials the server cannot be made to
    /// issue, such as expired ones.
    pub async fn override_turn_credentials(&self, username: &str, credential: &str) {
        let installed = self
            .execute(
                "window.__visavisE2eIceOverride = { username: arguments[0], credential: arguments[1] };\n\
                 return typeof RTCPeerConnection === 'function' && RTCPeerConnection.__visavisE2eProbe === true;",
                vec![json!(username), json!(credential)],
            )
            .await;
        assert_eq!(
            installed,
            json!(true),
            "{}: the peer-connection probe must be installed (watch_peer_connections before \
             open) to override TURN credentials",
            self.name
        );
    }

    /// The selected candidate pair of this page's newest open peer connection, read from
    /// `getStats()` by the test (needs [`Person::watch_peer_connections`]). `Err` says why there
    /// is none yet.
    pub async fn selected_pair(&self) -> Result<SelectedPair, String> {
        let value = match self
            .client
            .execute_async(SELECTED_PAIR_SCRIPT, vec![])
            .await
        {
            Ok(value) => value,
            Err(error) => return Err(format!("the getStats script failed: {error}")),
        };
        if let Some(error) = value["error"].as_str() {
            return Err(error.to_owned());
        }
        let pair = &value["pair"];
        if pair.is_null() {
            return Err(format!(
                "no selected candidate pair yet (connection state {})",
                value["connectionState"]
            ));
        }
        Ok(SelectedPair {
            policy: value["policy"].as_str().unwrap_or_default().to_owned(),
            ice_server_urls: string_list(&value["iceServerUrls"]),
            connection_state: value["connectionState"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            local: CandidateInfo::from_stats(&pair["local"]),
            remote: CandidateInfo::from_stats(&pair["remote"]),
            bytes_sent: pair["bytesSent"].as_u64().unwrap_or(0),
            bytes_received: pair["bytesReceived"].as_u64().unwrap_or(0),
        })
    }

    /// The `icecandidateerror` events of this page's peer connections so far, as
    /// `(url, code, text)` (needs [`Person::watch_peer_connections`]).
    pub async fn ice_errors(&self) -> Vec<(String, u64, String)> {
        let value = self
            .execute(
                "const e = window.__visavisE2eIceErrors;\n\
                 return Array.isArray(e) ? e : null;",
                vec![],
            )
            .await;
        let Some(errors) = value.as_array() else {
            panic!(
                "{}: the peer-connection probe is not installed (watch_peer_connections before \
                 open)",
                self.name
            );
        };
        errors
            .iter()
            .map(|e| {
                (
                    e["url"].as_str().unwrap_or_default().to_owned(),
                    e["code"].as_u64().unwrap_or(0),
                    e["text"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The page's own verdict on the media path: `#mediaPath`'s `data-path` (`direct` or
    /// `relay`), or `None` while there is none.
    pub async fn media_path(&self) -> Option<String> {
        self.execute(
            "const e = document.getElementById('mediaPath');\n\
             return e && e.dataset.path ? e.dataset.path : null;",
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether two consecutive samples show a playing video: a known size and more decoded frames
/// than the poll before.
pub fn is_playing(previous: Option<VideoSample>, now: VideoSample) -> bool {
    match previous {
        Some(before) => now.width > 0 && before.width > 0 && now.frames > before.frames,
        None => false,
    }
}

/// Like [`is_playing`], for a browser of `kind`: where the browser counts no decoded frames
/// (headless Firefox), a known size and a `currentTime` later than the poll before.
pub fn is_playing_in(kind: BrowserKind, previous: Option<VideoSample>, now: VideoSample) -> bool {
    if kind.counts_video_frames() {
        return is_playing(previous, now);
    }
    match previous {
        Some(before) => now.width > 0 && before.width > 0 && now.current_time > before.current_time,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(width: u64, frames: u64) -> VideoSample {
        VideoSample {
            width,
            height: width / 2,
            frames,
            current_time: 0.0,
        }
    }

    #[test]
    fn firefox_playing_needs_a_size_and_advancing_time() {
        let at = |width: u64, current_time: f64| VideoSample {
            width,
            height: width / 2,
            frames: 0,
            current_time,
        };
        let firefox = BrowserKind::Firefox;
        assert!(!is_playing_in(firefox, None, at(640, 1.0)));
        assert!(!is_playing_in(firefox, Some(at(640, 1.0)), at(640, 1.0)));
        assert!(!is_playing_in(firefox, Some(at(0, 1.0)), at(640, 2.0)));
        assert!(is_playing_in(firefox, Some(at(640, 1.0)), at(640, 1.1)));
        // Chromium still needs decoded frames.
        assert!(!is_playing_in(
            BrowserKind::Chromium,
            Some(at(640, 1.0)),
            at(640, 1.1)
        ));
    }

    #[test]
    fn playing_needs_a_size_and_growing_frames() {
        assert!(!is_playing(None, sample(640, 10)));
        assert!(!is_playing(Some(sample(640, 10)), sample(640, 10)));
        assert!(!is_playing(Some(sample(0, 0)), sample(640, 3)));
        assert!(!is_playing(Some(sample(0, 1)), sample(0, 2)));
        assert!(is_playing(Some(sample(640, 10)), sample(640, 11)));
    }
}
