//! The view models: the Leptos signals the controllers write and the components read. They are
//! the only thing the two share, which keeps components free of call logic. [`ViewModel`] is
//! the call page's, [`CheckModel`] the connectivity check page's.

use std::collections::HashSet;

use leptos::prelude::*;
use visavis_shared::MediaPath;
use web_sys::MediaStream;

use visavis_client_core::adapt::{QualityReading, Reason, SendLevel};
use visavis_client_core::call::{CallState, Status};
use visavis_client_core::chat::ChatLog;
use visavis_client_core::connectivity::{CheckResult, Row};
use visavis_client_core::devices::{AudioChoice, DeviceKind, DeviceOption, PreviewState};
use visavis_client_core::files::TransferView;
use visavis_client_core::link::IcePolicy;
use visavis_client_core::stats::LiveStats;
use visavis_client_core::wake::WakeLock;

/// Every piece of state the page shows. Copyable handles; the values live in Leptos' arena.
#[derive(Clone, Copy)]
pub struct ViewModel {
    /// The call state, published on `<body data-call-state>`.
    pub call_state: RwSignal<CallState>,
    /// The status line.
    pub status: RwSignal<Status>,
    /// An extra sentence about a media fallback (screen share, receive-only), if any.
    pub media_note: RwSignal<Option<String>>,
    /// Whether the room link was just copied (reset when the link changes).
    pub link_copied: RwSignal<bool>,
    /// A call attempt is starting (media or join pending): Call is disabled meanwhile.
    pub starting: RwSignal<bool>,
    /// The text of the room name field.
    pub room_input: RwSignal<String>,
    /// The local stream shown in `localVideo`.
    pub local_stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the local picture is shown mirrored: a camera facing the person, not a back
    /// camera or a shared screen.
    pub local_mirrored: RwSignal<bool>,
    /// Whether the device has a front and a back camera, so the call offers a flip.
    pub can_flip: RwSignal<bool>,
    /// The call's screen wake lock, published on `<body data-wake-lock>`.
    pub wake_lock: RwSignal<WakeLock>,
    /// The microphone's sound processing the person chose (speech filters, music mode).
    pub audio_choice: RwSignal<AudioChoice>,
    /// The other person's stream shown in `remoteVideo`.
    pub remote_stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the chat data channel is open.
    pub chat_open: RwSignal<bool>,
    /// The conversation.
    pub chat_log: RwSignal<ChatLog>,
    /// The text being typed in the chat input.
    pub chat_draft: RwSignal<String>,
    /// The ids of our chat messages the other side has not acknowledged yet (shown as
    /// "sending").
    pub chat_unsent: RwSignal<HashSet<String>>,
    /// The media path of the current call, once `getStats()` has told it.
    pub media_path: RwSignal<Option<MediaPath>>,
    /// The live statistics of the current call, from the time it first connected.
    pub call_stats: RwSignal<Option<LiveStats>>,
    /// Whether the file data channel is open.
    pub file_open: RwSignal<bool>,
    /// The file transfers of the current call, oldest first.
    pub transfers: RwSignal<Vec<TransferView>>,
    /// Whether our local media has a microphone track (the mute button needs one).
    pub has_audio: RwSignal<bool>,
    /// Whether our local media has a video track (camera and screen buttons need one).
    pub has_video: RwSignal<bool>,
    /// Whether the microphone is on (not muted).
    pub mic_on: RwSignal<bool>,
    /// Whether the camera (or shared screen) is on.
    pub camera_on: RwSignal<bool>,
    /// Whether the screen is shared in place of the camera.
    pub sharing: RwSignal<bool>,
    /// Whether the video track is a camera, which a shared screen may replace (not when the
    /// screen is already shared because the camera failed).
    pub can_share: RwSignal<bool>,
    /// Whether the peer connection exists (the screen can only be shared through it).
    pub call_ready: RwSignal<bool>,
    /// Whether the other side says its microphone is on.
    pub remote_audio: RwSignal<bool>,
    /// Whether the other side says its camera is on.
    pub remote_video: RwSignal<bool>,
    /// The device pickers, the pre-join preview and the microphone level.
    pub devices: DeviceModel,
    /// The adaptation to the network: levels, signal bars, audio-only mode.
    pub network: NetworkModel,
}

impl ViewModel {
    /// Creates the signals, in the current reactive owner, with the room field prefilled.
    pub fn new(room_input: String) -> ViewModel {
        ViewModel {
            call_state: RwSignal::new(CallState::Idle),
            status: RwSignal::new(Status::Ready),
            media_note: RwSignal::new(None),
            link_copied: RwSignal::new(false),
            starting: RwSignal::new(false),
            room_input: RwSignal::new(room_input),
            local_stream: RwSignal::new_local(None),
            local_mirrored: RwSignal::new(true),
            remote_stream: RwSignal::new_local(None),
            chat_open: RwSignal::new(false),
            chat_log: RwSignal::new(ChatLog::default()),
            chat_draft: RwSignal::new(String::new()),
            chat_unsent: RwSignal::new(HashSet::new()),
            media_path: RwSignal::new(None),
            call_stats: RwSignal::new(None),
            file_open: RwSignal::new(false),
            transfers: RwSignal::new(Vec::new()),
            has_audio: RwSignal::new(false),
            has_video: RwSignal::new(false),
            mic_on: RwSignal::new(true),
            camera_on: RwSignal::new(true),
            sharing: RwSignal::new(false),
            can_share: RwSignal::new(false),
            can_flip: RwSignal::new(false),
            wake_lock: RwSignal::new(WakeLock::Off),
            audio_choice: RwSignal::new(AudioChoice::default()),
            call_ready: RwSignal::new(false),
            remote_audio: RwSignal::new(true),
            remote_video: RwSignal::new(true),
            devices: DeviceModel::new(),
            network: NetworkModel::new(),
        }
    }
}

/// What the adaptation to the network shows: our send level and signal bars, the other side's,
/// audio-only mode and its suggestion, the other side's paused camera.
#[derive(Clone, Copy)]
pub struct NetworkModel {
    /// The level our video is sent at.
    pub send_level: RwSignal<SendLevel>,
    /// Our signal bars and their explanation, once the statistics have a figure.
    pub local_quality: RwSignal<Option<QualityReading>>,
    /// The other side's signal bars, as they sent them.
    pub remote_quality: RwSignal<Option<u8>>,
    /// The level the other side sends its video at, and why.
    pub remote_level: RwSignal<(SendLevel, Option<Reason>)>,
    /// The call is audio only: no video is sent either way.
    pub audio_only: RwSignal<bool>,
    /// The link stays bad at the lowest video level: audio only is suggested.
    pub suggest_audio_only: RwSignal<bool>,
    /// The other side's browser paused its camera (their page is in the background).
    pub remote_camera_paused: RwSignal<bool>,
}

impl NetworkModel {
    fn new() -> NetworkModel {
        NetworkModel {
            send_level: RwSignal::new(SendLevel::Full),
            local_quality: RwSignal::new(None),
            remote_quality: RwSignal::new(None),
            remote_level: RwSignal::new((SendLevel::Full, None)),
            audio_only: RwSignal::new(false),
            suggest_audio_only: RwSignal::new(false),
            remote_camera_paused: RwSignal::new(false),
        }
    }

    /// Back to a fresh call's values.
    pub fn reset(&self) {
        self.send_level.set(SendLevel::Full);
        self.local_quality.set(None);
        self.remote_quality.set(None);
        self.remote_level.set((SendLevel::Full, None));
        self.audio_only.set(false);
        self.suggest_audio_only.set(false);
        self.remote_camera_paused.set(false);
    }
}

/// What the device controls show: the pickers, the pre-join preview and the microphone level.
#[derive(Clone, Copy)]
pub struct DeviceModel {
    /// The cameras to pick from.
    pub cameras: RwSignal<Vec<DeviceOption>>,
    /// The microphones to pick from.
    pub microphones: RwSignal<Vec<DeviceOption>>,
    /// The speakers to pick from.
    pub speakers: RwSignal<Vec<DeviceOption>>,
    /// The camera in use, or the one that will be (its id).
    pub camera: RwSignal<Option<String>>,
    /// The microphone in use, or the one that will be.
    pub microphone: RwSignal<Option<String>>,
    /// The speaker the other person is heard on (`None`: the system's default). Applied to
    /// `remoteVideo` with `setSinkId`.
    pub speaker: RwSignal<Option<String>>,
    /// Whether the browser can play to a chosen speaker (the speaker picker is shown only then).
    pub sink_supported: RwSignal<bool>,
    /// The pre-join preview's stream, shown in `previewVideo`.
    pub preview: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the preview is mirrored: its camera faces the person (or does not say).
    pub preview_mirrored: RwSignal<bool>,
    /// Whether the preview is off, opening, live or failed.
    pub preview_state: RwSignal<PreviewState>,
    /// The microphone level, 0–100, while a microphone is open.
    pub mic_level: RwSignal<Option<u8>>,
    /// A device switch is under way (the pickers wait for it).
    pub switching: RwSignal<bool>,
}

impl DeviceModel {
    /// Creates the signals: nothing listed, nothing open.
    pub fn new() -> DeviceModel {
        DeviceModel {
            cameras: RwSignal::new(Vec::new()),
            microphones: RwSignal::new(Vec::new()),
            speakers: RwSignal::new(Vec::new()),
            camera: RwSignal::new(None),
            microphone: RwSignal::new(None),
            speaker: RwSignal::new(None),
            sink_supported: RwSignal::new(false),
            preview: RwSignal::new_local(None),
            preview_mirrored: RwSignal::new(true),
            preview_state: RwSignal::new(PreviewState::Off),
            mic_level: RwSignal::new(None),
            switching: RwSignal::new(false),
        }
    }

    /// The list of one kind.
    pub fn options(&self, kind: DeviceKind) -> RwSignal<Vec<DeviceOption>> {
        match kind {
            DeviceKind::Camera => self.cameras,
            DeviceKind::Microphone => self.microphones,
            DeviceKind::Speaker => self.speakers,
        }
    }

    /// The chosen device of one kind.
    pub fn chosen(&self, kind: DeviceKind) -> RwSignal<Option<String>> {
        match kind {
            DeviceKind::Camera => self.camera,
            DeviceKind::Microphone => self.microphone,
            DeviceKind::Speaker => self.speaker,
        }
    }
}

impl Default for DeviceModel {
    fn default() -> Self {
        DeviceModel::new()
    }
}

/// Everything the connectivity check page shows.
#[derive(Clone, Copy)]
pub struct CheckModel {
    /// The ICE policy the network rows are tested with (from `?ice=relay`).
    pub policy: IcePolicy,
    /// Local network (host) candidates.
    pub host: RwSignal<Row>,
    /// Public address via STUN (srflx) candidates.
    pub srflx: RwSignal<Row>,
    /// Relay via TURN (relay) candidates.
    pub relay: RwSignal<Row>,
    /// The relay reached over UDP alone.
    pub turn_udp: RwSignal<Row>,
    /// The relay reached over TCP alone.
    pub turn_tcp: RwSignal<Row>,
    /// The relay reached over TLS alone.
    pub turn_tls: RwSignal<Row>,
    /// Whether the server offers its relay over TLS (its row is shown only then).
    pub turn_tls_offered: RwSignal<bool>,
    /// What the three transport rows mean together, once they are all final.
    pub turn_summary: RwSignal<Option<String>>,
    /// The camera.
    pub camera: RwSignal<Row>,
    /// The microphone.
    pub microphone: RwSignal<Row>,
    /// The camera preview's stream, while the camera is open.
    pub camera_stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// The microphone's loudness between 0 and 1, while the microphone is open.
    pub mic_level: RwSignal<Option<f64>>,
    /// The camera and microphone were given back after the test.
    pub devices_released: RwSignal<bool>,
}

impl CheckModel {
    /// Creates the signals, every row pending.
    pub fn new(policy: IcePolicy) -> CheckModel {
        let model = CheckModel {
            policy,
            host: RwSignal::new(Row::default()),
            srflx: RwSignal::new(Row::default()),
            relay: RwSignal::new(Row::default()),
            turn_udp: RwSignal::new(Row::default()),
            turn_tcp: RwSignal::new(Row::default()),
            turn_tls: RwSignal::new(Row::default()),
            turn_tls_offered: RwSignal::new(false),
            turn_summary: RwSignal::new(None),
            camera: RwSignal::new(Row::default()),
            microphone: RwSignal::new(Row::default()),
            camera_stream: RwSignal::new_local(None),
            mic_level: RwSignal::new(None),
            devices_released: RwSignal::new(false),
        };
        model.reset();
        model
    }

    /// Puts every row back to pending with its starting text, and clears the devices.
    pub fn reset(&self) {
        for row in [
            self.host,
            self.srflx,
            self.relay,
            self.turn_udp,
            self.turn_tcp,
            self.turn_tls,
        ] {
            row.set(Row::pending("Waiting to start…"));
        }
        self.turn_tls_offered.set(false);
        self.turn_summary.set(None);
        self.camera.set(Row::pending(
            "Opening the camera… (allow access if the browser asks)",
        ));
        self.microphone
            .set(Row::pending("Waiting for the camera test to finish…"));
        self.camera_stream.set(None);
        self.mic_level.set(None);
        self.devices_released.set(false);
    }

    /// Whether every row has its final result.
    pub fn all_final(&self) -> bool {
        [
            self.host,
            self.srflx,
            self.relay,
            self.turn_udp,
            self.turn_tcp,
            self.turn_tls,
            self.camera,
            self.microphone,
        ]
        .iter()
        .all(|row| row.with(|r| CheckResult::is_final(r.result)))
    }
}
