//! Cameras, microphones and speakers, in real browsers: the pre-join preview plays, the pickers
//! list the fake devices, the microphone level moves with a fake sound, choices survive a
//! reload, the call takes over the preview's stream without opening the camera again, hanging
//! up turns the camera off, a camera or microphone is switched mid-call without disturbing the
//! call, and a camera that disappears is replaced.
//!
//! Chromium is given three fake cameras and four fake microphones
//! (`--use-fake-device-for-media-stream=device-count=3`, which overrides the harness's plain
//! flag: the last copy of a switch wins) and, where the level matters, a generated tone as the
//! microphone's sound (`--use-file-for-fake-audio-capture`). Chromium's second fake camera,
//! `fake_device_1`, imitates a depth camera: it shows locally, but its frames cannot be encoded,
//! so a call that sends it goes dark. Calls here switch between the others.
//!
//! Each test starts its own app, WebDriver server and browsers; the harness runs them one at a
//! time within this binary.

use std::path::Path;

use fantoccini::Locator;
use serde_json::{json, Value};
use visavis_e2e::{
    call_between, connect_pair, room_path, run_browser_test, unique_room, BrowserKind,
    BrowserOptions, Person, TestContext, STEP_TIMEOUT, VIDEO_TIMEOUT,
};

/// Chromium flags for three fake cameras (and more fake microphones and speakers).
fn three_cameras() -> Vec<String> {
    vec!["--use-fake-device-for-media-stream=device-count=3".to_owned()]
}

/// Chromium's depth-camera imitation, which a call cannot send (see the module comment).
const DEPTH_CAMERA: &str = "fake_device_1";

/// A camera of `cameras` other than `not`, one a call can send.
fn other_camera(cameras: &[(String, String)], not: &str) -> String {
    cameras
        .iter()
        .find(|(id, label)| id != not && label != DEPTH_CAMERA)
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("no camera other than {not} in {cameras:?}"))
}

/// Writes a 16-bit mono WAV of 440 Hz bursts (a third of a second on, a sixth off), loud
/// enough to move the level meter and interrupted so noise suppression does not take it for
/// a steady hum.
fn write_tone(path: &Path) -> std::io::Result<()> {
    const RATE: u32 = 48_000;
    let samples: Vec<i16> = (0..RATE * 2)
        .map(|i| {
            let t = f64::from(i) / f64::from(RATE);
            let on = (t * 2.0).fract() < 2.0 / 3.0;
            if on {
                (0.6 * 32767.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            } else {
                0
            }
        })
        .collect();
    let data_len = u32::try_from(samples.len() * 2).expect("two seconds fit a WAV");
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, wav)
}

/// A Chromium person with three fake cameras (plus `extra` flags).
async fn chromium_person(ctx: &TestContext, name: &str, extra: Vec<String>) -> Person {
    let mut args = three_cameras();
    args.extend(extra);
    let options = BrowserOptions {
        args,
        ..BrowserOptions::default()
    };
    ctx.person_in_with_browser(BrowserKind::Chromium, name, &options)
        .await
}

/// The `(value, text)` of each option of the `<select>` with this id.
async fn options_of(person: &Person, id: &str) -> Vec<(String, String)> {
    let value = person
        .execute(
            "const s = document.getElementById(arguments[0]);\n\
             return s ? Array.from(s.options).map(o => [o.value, o.textContent.trim()]) : [];",
            vec![json!(id)],
        )
        .await;
    value
        .as_array()
        .map(|options| {
            options
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap_or_default().to_owned(),
                        pair[1].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the picker `id` is enabled and lists at least `count` devices with ids and
/// names; returns them.
async fn wait_for_options(person: &Person, id: &str, count: usize) -> Vec<(String, String)> {
    person
        .wait_until(
            &format!(
                "(() => {{ const s = document.getElementById('{id}'); \
                 return s && !s.disabled && s.options.length >= {count} \
                 && Array.from(s.options).every(o => o.value !== '' && o.textContent.trim() !== ''); }})()"
            ),
            STEP_TIMEOUT,
            &format!("#{id} to list at least {count} devices"),
        )
        .await;
    options_of(person, id).await
}

/// Picks the option `value` of the `<select>` `id` as a person would (WebDriver's select).
async fn pick(person: &Person, id: &str, value: &str) {
    person.wait_for_enabled(id).await;
    let select = match person.client().find(Locator::Id(id)).await {
        Ok(select) => select,
        Err(error) => panic!("{} has no #{id}: {error}", person.name()),
    };
    if let Err(error) = select.select_by_value(value).await {
        panic!(
            "{} could not pick {value:?} in #{id}: {error}",
            person.name()
        );
    }
}

/// Waits until the `<select>` `id` shows the option `value`.
async fn wait_for_value(person: &Person, id: &str, value: &str, what: &str) {
    person
        .wait_until(
            &format!(
                "(document.getElementById('{id}') || {{}}).value === {}",
                json!(value)
            ),
            STEP_TIMEOUT,
            &format!("#{id} to show {what} ({value})"),
        )
        .await;
}

/// A JavaScript expression: the first `kind` track of the video element `video`'s stream.
fn track_of(video: &str, kind: &str) -> String {
    let getter = if kind == "audio" {
        "getAudioTracks"
    } else {
        "getVideoTracks"
    };
    format!(
        "((document.getElementById('{video}') || {{}}).srcObject \
         ? document.getElementById('{video}').srcObject.{getter}()[0] : undefined)"
    )
}

/// Keeps the current `kind` track of `video` in `window[name]`, for checking later that it was
/// stopped; returns its device id.
async fn remember_track(person: &Person, video: &str, kind: &str, name: &str) -> String {
    let device = person
        .execute(
            &format!(
                "const t = {}; window[arguments[0]] = t; \
                 return t ? t.getSettings().deviceId : null;",
                track_of(video, kind)
            ),
            vec![json!(name)],
        )
        .await;
    match device.as_str() {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => panic!(
            "{}: #{video} has no {kind} track with a device id ({device})",
            person.name()
        ),
    }
}

/// Waits until `video`'s `kind` track comes from the device `id`, is live, and the track kept
/// in `window[old]` has ended (the old device was released).
async fn wait_switched(person: &Person, video: &str, kind: &str, id: &str, old: &str) {
    let track = track_of(video, kind);
    let id_literal = json!(id);
    person
        .wait_until(
            &format!(
                "(() => {{ const t = {track}; const old = window['{old}']; \
                 return t && t.readyState === 'live' && t.getSettings().deviceId === {id_literal} \
                 && old && old !== t && old.readyState === 'ended'; }})()"
            ),
            STEP_TIMEOUT,
            &format!("#{video}'s {kind} track to come from {id} and the old one to be stopped"),
        )
        .await;
}

/// The id of the track the newest peer connection sends for `kind` (the probe of
/// `watch_peer_connections` keeps the connections).
async fn sent_track_id(person: &Person, kind: &str) -> Value {
    person
        .execute(
            "const all = window.__visavisE2ePeerConnections || [];\n\
             const open = all.filter(pc => pc.connectionState !== 'closed');\n\
             const pc = open[open.length - 1];\n\
             if (!pc) return null;\n\
             const sender = pc.getSenders().find(s => s.track && s.track.kind === arguments[0]);\n\
             return sender ? sender.track.id : null;",
            vec![json!(kind)],
        )
        .await
}

/// Asserts that `person`'s call sends exactly the track `video` shows for `kind`.
async fn assert_sends_shown_track(person: &Person, video: &str, kind: &str) {
    let shown = person
        .execute(
            &format!(
                "const t = {}; return t ? t.id : null;",
                track_of(video, kind)
            ),
            vec![],
        )
        .await;
    let sent = sent_track_id(person, kind).await;
    assert!(
        !shown.is_null() && shown == sent,
        "{}: the call sends {kind} track {sent} but #{video} shows {shown}",
        person.name()
    );
}

/// Waits until the microphone meter reads at least `percent`.
async fn wait_for_level(person: &Person, percent: u32) {
    person
        .wait_until(
            &format!(
                "(() => {{ const m = document.getElementById('micLevel'); \
                 return m && m.getAttribute('role') === 'meter' \
                 && Number(m.getAttribute('aria-valuenow')) >= {percent} \
                 && Number(m.getAttribute('aria-valuenow')) <= 100; }})()"
            ),
            STEP_TIMEOUT,
            &format!("#micLevel to read at least {percent}"),
        )
        .await;
}

/// A JavaScript expression: the pre-join screen is shown.
const PRE_JOIN_SHOWN: &str = "(() => { const p = document.getElementById('preJoin'); \
     return p && !p.hidden && p.offsetParent !== null; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pre_join_screen_previews_lists_measures_and_remembers_the_devices() {
    run_browser_test(|ctx| async move {
        let sounds = tempfile::tempdir().expect("a temporary directory");
        let tone = sounds.path().join("tone.wav");
        write_tone(&tone).expect("the tone file can be written");
        let alice = chromium_person(
            &ctx,
            "alice",
            vec![format!("--use-file-for-fake-audio-capture={}", tone.display())],
        )
        .await;
        alice.open("/").await;

        // The preview plays, and nothing had to be clicked for it.
        alice
            .wait_until(PRE_JOIN_SHOWN, STEP_TIMEOUT, "the pre-join screen")
            .await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;
        assert_eq!(alice.call_state().await, "idle");

        // Three cameras and (at least) two microphones, named, with ids.
        let cameras = wait_for_options(&alice, "cameraSelect", 3).await;
        let microphones = wait_for_options(&alice, "microphoneSelect", 2).await;
        assert_eq!(cameras.len(), 3, "the fake cameras: {cameras:?}");
        let first_camera = remember_track(&alice, "previewVideo", "video", "__oldCamera").await;
        wait_for_value(&alice, "cameraSelect", &first_camera, "the preview's camera").await;
        let microphone = remember_track(&alice, "previewVideo", "audio", "__oldMicrophone").await;
        assert!(
            microphones.iter().any(|(id, _)| *id == microphone),
            "the preview's microphone {microphone} is in the picker {microphones:?}"
        );

        // The tone moves the meter.
        wait_for_level(&alice, 5).await;

        // The speaker picker is there because Chromium can play to a chosen speaker.
        let sink_supported = alice
            .execute(
                "return typeof HTMLMediaElement.prototype.setSinkId === 'function';",
                vec![],
            )
            .await;
        assert_eq!(sink_supported, json!(true), "Chromium has setSinkId");
        let speakers = wait_for_options(&alice, "speakerSelect", 2).await;

        // Another camera, picked before the call: the preview switches and lets the first go.
        let second_camera = other_camera(&cameras, &first_camera);
        pick(&alice, "cameraSelect", &second_camera).await;
        wait_switched(
            &alice,
            "previewVideo",
            "video",
            &second_camera,
            "__oldCamera",
        )
        .await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;

        // Another speaker: the other person's video plays to it.
        let (speaker, _) = speakers.last().cloned().expect("a speaker");
        pick(&alice, "speakerSelect", &speaker).await;
        let speaker_literal = json!(speaker);
        alice
            .wait_until(
                &format!("document.getElementById('remoteVideo').sinkId === {speaker_literal}"),
                STEP_TIMEOUT,
                "remoteVideo to play to the chosen speaker",
            )
            .await;

        // The choices are remembered for the next visit.
        alice.open("/").await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;
        let camera_literal = json!(second_camera);
        alice
            .wait_until(
                &format!(
                    "{}.getSettings().deviceId === {camera_literal} \
                     && document.getElementById('cameraSelect').value === {camera_literal} \
                     && document.getElementById('speakerSelect').value === {speaker_literal} \
                     && document.getElementById('remoteVideo').sinkId === {speaker_literal}",
                    track_of("previewVideo", "video")
                ),
                STEP_TIMEOUT,
                "the remembered camera and speaker after a reload",
            )
            .await;

        // Turning the preview off releases the camera and microphone and stills the meter.
        alice
            .execute(
                "window.__previewStream = document.getElementById('previewVideo').srcObject; \
                 return true;",
                vec![],
            )
            .await;
        alice.click("previewButton").await;
        alice
            .wait_until(
                "document.getElementById('previewVideo').srcObject === null \
                 && window.__previewStream.getTracks().length === 2 \
                 && window.__previewStream.getTracks().every(t => t.readyState === 'ended') \
                 && document.getElementById('micLevel').getAttribute('aria-valuenow') === '0' \
                 && document.getElementById('previewButton').textContent.trim() === 'Turn on camera'",
                STEP_TIMEOUT,
                "the preview off, its tracks stopped and the meter at 0",
            )
            .await;

        // Call without a preview opens the chosen camera.
        alice.click("callButton").await;
        alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
        alice.local_video_showing().await;
        let local_camera = alice
            .execute(
                &format!("return {}.getSettings().deviceId;", track_of("localVideo", "video")),
                vec![],
            )
            .await;
        assert_eq!(
            local_camera,
            json!(second_camera),
            "the call opens the chosen camera"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_takes_over_the_preview_and_hanging_up_turns_the_camera_off() {
    run_browser_test(|ctx| async move {
        let alice = chromium_person(&ctx, "alice", Vec::new()).await;
        let bob = chromium_person(&ctx, "bob", Vec::new()).await;
        let path = room_path(&unique_room("preview"));
        tokio::join!(alice.open(&path), bob.open(&path));
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;

        // From here on, count every request for a camera or microphone.
        alice
            .execute(
                "window.__previewStream = document.getElementById('previewVideo').srcObject;\n\
                 window.__getUserMediaCalls = 0;\n\
                 const devices = navigator.mediaDevices;\n\
                 const original = devices.getUserMedia.bind(devices);\n\
                 devices.getUserMedia = (c) => { window.__getUserMediaCalls += 1; return original(c); };\n\
                 return true;",
                vec![],
            )
            .await;

        call_between(&alice, &bob).await;
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        let handed_over = alice
            .execute(
                "return document.getElementById('localVideo').srcObject === window.__previewStream \
                 && window.__previewStream.getTracks().every(t => t.readyState === 'live') \
                 && window.__getUserMediaCalls;",
                vec![],
            )
            .await;
        assert_eq!(
            handed_over,
            json!(0),
            "the call should show and send the preview's live stream without asking for the \
             camera again (false: another stream; a number: getUserMedia calls)"
        );

        // In the call the preview is gone, the pickers stay.
        alice
            .wait_until(
                "document.getElementById('preJoin').hidden \
                 && document.getElementById('previewVideo').srcObject === null \
                 && document.getElementById('cameraSelect').offsetParent !== null \
                 && !document.getElementById('cameraSelect').disabled",
                STEP_TIMEOUT,
                "the pre-join screen hidden and the pickers shown during the call",
            )
            .await;

        // Hanging up releases the camera; the pre-join screen comes back with the camera off.
        let report = alice.hang_up_and_check_camera().await;
        assert_eq!(report.state, "ended");
        assert!(
            report.all_tracks_ended,
            "alice's camera should be released after hanging up: {:?}",
            report.tracks
        );
        alice
            .wait_until(
                &format!(
                    "{PRE_JOIN_SHOWN} \
                     && document.getElementById('previewVideo').srcObject === null \
                     && document.getElementById('previewButton').textContent.trim() === 'Turn on camera' \
                     && document.getElementById('micLevel').getAttribute('aria-valuenow') === '0'"
                ),
                STEP_TIMEOUT,
                "the pre-join screen back, with the preview off",
            )
            .await;
        let calls_after = alice
            .execute("return window.__getUserMediaCalls;", vec![])
            .await;
        assert_eq!(
            calls_after,
            json!(0),
            "nothing should open the camera again after the hang-up by itself"
        );

        // The person turns the preview on again.
        alice.click("previewButton").await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;
        alice
            .wait_until(
                "document.getElementById('previewButton').textContent.trim() === 'Turn off camera'",
                STEP_TIMEOUT,
                "the preview button to offer turning the camera off",
            )
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_camera_and_microphone_mid_call_keeps_the_call_up() {
    run_browser_test(|ctx| async move {
        let alice = chromium_person(&ctx, "alice", Vec::new()).await;
        let bob = chromium_person(&ctx, "bob", Vec::new()).await;
        alice.watch_peer_connections().await;
        connect_pair(&alice, &bob, &unique_room("switch")).await;

        let cameras = wait_for_options(&alice, "cameraSelect", 3).await;
        let microphones = wait_for_options(&alice, "microphoneSelect", 2).await;
        let first_camera = remember_track(&alice, "localVideo", "video", "__oldCamera").await;
        let second_camera = other_camera(&cameras, &first_camera);

        // The camera.
        pick(&alice, "cameraSelect", &second_camera).await;
        wait_switched(&alice, "localVideo", "video", &second_camera, "__oldCamera").await;
        assert_sends_shown_track(&alice, "localVideo", "video").await;
        wait_for_value(&alice, "cameraSelect", &second_camera, "the new camera").await;
        alice.local_video_showing().await;
        bob.remote_video_playing().await;
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");

        // The microphone, while muted: the new one stays muted.
        let first_microphone =
            remember_track(&alice, "localVideo", "audio", "__oldMicrophone").await;
        let (second_microphone, _) = microphones
            .iter()
            .find(|(id, _)| *id != first_microphone)
            .cloned()
            .expect("a second microphone");
        alice.click("muteButton").await;
        bob.wait_until(
            "document.getElementById('remoteMuted').hidden === false",
            STEP_TIMEOUT,
            "bob to see alice muted",
        )
        .await;
        pick(&alice, "microphoneSelect", &second_microphone).await;
        wait_switched(
            &alice,
            "localVideo",
            "audio",
            &second_microphone,
            "__oldMicrophone",
        )
        .await;
        assert_sends_shown_track(&alice, "localVideo", "audio").await;
        let enabled = alice
            .execute(
                &format!("return {}.enabled;", track_of("localVideo", "audio")),
                vec![],
            )
            .await;
        assert_eq!(enabled, json!(false), "the new microphone stays muted");
        alice.click("muteButton").await;
        alice
            .wait_until(
                &format!("{}.enabled === true", track_of("localVideo", "audio")),
                STEP_TIMEOUT,
                "the new microphone to be unmuted",
            )
            .await;
        bob.wait_until(
            "document.getElementById('remoteMuted').hidden === true",
            STEP_TIMEOUT,
            "bob to see alice unmuted",
        )
        .await;

        // Back to the first camera with the camera stopped: the new one stays stopped.
        remember_track(&alice, "localVideo", "video", "__oldCamera").await;
        alice.click("cameraButton").await;
        pick(&alice, "cameraSelect", &first_camera).await;
        wait_switched(&alice, "localVideo", "video", &first_camera, "__oldCamera").await;
        let enabled = alice
            .execute(
                &format!("return {}.enabled;", track_of("localVideo", "video")),
                vec![],
            )
            .await;
        assert_eq!(enabled, json!(false), "the new camera stays stopped");
        alice.click("cameraButton").await;
        alice
            .wait_until(
                &format!("{}.enabled === true", track_of("localVideo", "video")),
                STEP_TIMEOUT,
                "the new camera to be started",
            )
            .await;
        assert_sends_shown_track(&alice, "localVideo", "video").await;

        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_camera_while_sharing_the_screen_waits_for_the_share_to_end() {
    run_browser_test(|ctx| async move {
        let alice = chromium_person(
            &ctx,
            "alice",
            vec!["--auto-select-desktop-capture-source=Entire screen".to_owned()],
        )
        .await;
        let bob = chromium_person(&ctx, "bob", Vec::new()).await;
        alice.watch_peer_connections().await;
        connect_pair(&alice, &bob, &unique_room("share-switch")).await;
        let cameras = wait_for_options(&alice, "cameraSelect", 3).await;
        let first_camera = remember_track(&alice, "localVideo", "video", "__oldCamera").await;
        let second_camera = other_camera(&cameras, &first_camera);

        alice.click("screenButton").await;
        alice
            .wait_until(
                "document.getElementById('localTile').dataset.source === 'screen'",
                STEP_TIMEOUT,
                "alice to share her screen",
            )
            .await;
        let screen = sent_track_id(&alice, "video").await;

        // The new camera is opened, the old one released, and the screen still sent.
        pick(&alice, "cameraSelect", &second_camera).await;
        alice
            .wait_until(
                "window.__oldCamera.readyState === 'ended'",
                STEP_TIMEOUT,
                "the old camera to be released",
            )
            .await;
        assert_eq!(
            sent_track_id(&alice, "video").await,
            screen,
            "the screen share goes on"
        );
        assert_eq!(
            alice
                .execute(
                    "return document.getElementById('localTile').dataset.source;",
                    vec![]
                )
                .await,
            json!("screen")
        );

        // Stopping the share sends the new camera.
        alice.click("screenButton").await;
        let camera_literal = json!(second_camera);
        alice
            .wait_until(
                &format!(
                    "document.getElementById('localTile').dataset.source === 'camera' \
                     && {track}.readyState === 'live' \
                     && {track}.getSettings().deviceId === {camera_literal}",
                    track = track_of("localVideo", "video")
                ),
                STEP_TIMEOUT,
                "alice back on the camera she picked while sharing",
            )
            .await;
        assert_sends_shown_track(&alice, "localVideo", "video").await;
        bob.remote_video_playing().await;
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_disappears_is_replaced_and_a_new_one_is_listed() {
    run_browser_test(|ctx| async move {
        let alice = chromium_person(&ctx, "alice", Vec::new()).await;
        alice.open("/").await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;
        let cameras = wait_for_options(&alice, "cameraSelect", 3).await;
        let in_use = remember_track(&alice, "previewVideo", "video", "__oldCamera").await;

        // The camera in use is unplugged: the browser stops listing it and says so with
        // `devicechange` (fake devices cannot be unplugged, so the list is filtered here).
        alice
            .execute(
                "const devices = navigator.mediaDevices;\n\
                 const list = devices.enumerateDevices.bind(devices);\n\
                 window.__hiddenDevice = arguments[0];\n\
                 devices.enumerateDevices = async () =>\n\
                     (await list()).filter(d => d.deviceId !== window.__hiddenDevice);\n\
                 devices.dispatchEvent(new Event('devicechange'));\n\
                 return true;",
                vec![json!(in_use)],
            )
            .await;
        let (other, _) = cameras
            .iter()
            .find(|(id, _)| *id != in_use)
            .cloned()
            .expect("a second camera");
        wait_switched(&alice, "previewVideo", "video", &other, "__oldCamera").await;
        let gone = json!(in_use);
        alice
            .wait_until(
                &format!(
                    "Array.from(document.getElementById('cameraSelect').options)\
                     .every(o => o.value !== {gone}) \
                     && document.getElementById('cameraSelect').value === {}",
                    json!(other)
                ),
                STEP_TIMEOUT,
                "the unplugged camera to leave the picker",
            )
            .await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;

        // Plugged in again: it is listed again, and the camera in use stays.
        alice
            .execute(
                "window.__hiddenDevice = null;\n\
                 navigator.mediaDevices.dispatchEvent(new Event('devicechange'));\n\
                 return true;",
                vec![],
            )
            .await;
        alice
            .wait_until(
                &format!(
                    "Array.from(document.getElementById('cameraSelect').options)\
                     .some(o => o.value === {gone})"
                ),
                STEP_TIMEOUT,
                "the camera to be listed again",
            )
            .await;
        let still = alice
            .execute(
                &format!(
                    "const t = {}; return t.readyState === 'live' ? t.getSettings().deviceId : null;",
                    track_of("previewVideo", "video")
                ),
                vec![],
            )
            .await;
        assert_eq!(still, json!(other), "a plugged-in camera is offered, not forced");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_previews_and_offers_the_speaker_picker_only_with_set_sink_id() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person_in(BrowserKind::Firefox, "alice").await;
        alice.open("/").await;
        alice
            .wait_for_video_playing("previewVideo", VIDEO_TIMEOUT)
            .await;
        wait_for_options(&alice, "cameraSelect", 1).await;
        wait_for_options(&alice, "microphoneSelect", 1).await;
        let supported = alice
            .execute(
                "return typeof HTMLMediaElement.prototype.setSinkId === 'function';",
                vec![],
            )
            .await;
        let picker = alice
            .execute(
                "const s = document.getElementById('speakerSelect');\n\
                 return s !== null && !s.hidden && !s.disabled && s.offsetParent !== null;",
                vec![],
            )
            .await;
        if supported == json!(true) {
            // Shown; usable once Firefox lists outputs (it may list none without a prompt).
            let present = alice
                .execute(
                    "return document.getElementById('speakerSelect') !== null;",
                    vec![],
                )
                .await;
            assert_eq!(
                present,
                json!(true),
                "the speaker picker where setSinkId exists"
            );
        } else {
            assert_eq!(
                picker,
                json!(false),
                "no usable speaker picker without setSinkId"
            );
        }
    })
    .await;
}
