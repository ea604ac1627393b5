//! The in-call controls in a real call: muting and stopping the camera shows on the other side,
//! the keyboard shortcuts work (but not while typing), and sharing the screen replaces the
//! camera on the other side without ending the call, and back.
//!
//! Each test starts its own app, WebDriver server and browsers; the harness runs them one at a
//! time within this binary.

use visavis_e2e::{
    connect_pair, run_browser_test, unique_room, BrowserOptions, Person, STEP_TIMEOUT,
    VIDEO_TIMEOUT,
};

/// A JavaScript expression: the first local audio (or video) track's `enabled` flag.
fn local_track_enabled(kind: &str) -> String {
    let getter = if kind == "audio" {
        "getAudioTracks"
    } else {
        "getVideoTracks"
    };
    format!(
        "(() => {{ const s = document.getElementById('localVideo').srcObject; \
         const t = s ? s.{getter}()[0] : null; return t ? t.enabled : null; }})()"
    )
}

/// Waits until `person`'s local track of `kind` is `enabled`, and the button `id` shows
/// `label` with `aria-pressed` saying the opposite of `enabled`.
async fn wait_local(person: &Person, kind: &str, enabled: bool, id: &str, label: &str) {
    let pressed = !enabled;
    person
        .wait_until(
            &format!(
                "{} === {enabled} \
                 && document.getElementById('{id}').getAttribute('aria-pressed') === '{pressed}' \
                 && document.getElementById('{id}').textContent.trim() === '{label}'",
                local_track_enabled(kind)
            ),
            STEP_TIMEOUT,
            &format!("the local {kind} track enabled={enabled} and #{id} labelled {label:?}"),
        )
        .await;
}

/// Waits until `person` sees the other side's `kind` (`audio` or `video`) as `on`/`off`, on
/// the remote tile's attribute and its badge `badge`.
async fn wait_remote(person: &Person, kind: &str, state: &str, badge: &str) {
    let badge_hidden = state == "on";
    person
        .wait_until(
            &format!(
                "document.querySelector('#remoteTile[data-remote-{kind}=\"{state}\"]') !== null \
                 && document.getElementById('{badge}').hidden === {badge_hidden}"
            ),
            STEP_TIMEOUT,
            &format!("#remoteTile[data-remote-{kind}={state}] with #{badge} hidden={badge_hidden}"),
        )
        .await;
}

/// Sends a key press to the page as the window would get it (target: the body, or the
/// element `on`).
async fn press_key(person: &Person, key: &str, on: Option<&str>) {
    let target = match on {
        Some(id) => format!("document.getElementById('{id}')"),
        None => "document.body".to_owned(),
    };
    person
        .execute(
            &format!(
                "{target}.dispatchEvent(new KeyboardEvent('keydown', \
                 {{ key: arguments[0], bubbles: true, cancelable: true }})); return true;"
            ),
            vec![serde_json::json!(key)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_and_stopping_the_camera_show_on_the_other_side() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("mute")).await;

        // Both start on, as the other side was told when the channel opened.
        wait_remote(&bob, "audio", "on", "remoteMuted").await;
        wait_remote(&alice, "video", "on", "remoteCameraOff").await;
        wait_local(&alice, "audio", true, "muteButton", "Mute").await;

        alice.click("muteButton").await;
        wait_local(&alice, "audio", false, "muteButton", "Unmute").await;
        wait_remote(&bob, "audio", "off", "remoteMuted").await;
        alice.click("muteButton").await;
        wait_local(&alice, "audio", true, "muteButton", "Mute").await;
        wait_remote(&bob, "audio", "on", "remoteMuted").await;

        bob.click("cameraButton").await;
        wait_local(&bob, "video", false, "cameraButton", "Start video").await;
        wait_remote(&alice, "video", "off", "remoteCameraOff").await;
        bob.click("cameraButton").await;
        wait_local(&bob, "video", true, "cameraButton", "Stop video").await;
        wait_remote(&alice, "video", "on", "remoteCameraOff").await;

        // The shortcuts do the same, but not while typing in a field.
        press_key(&alice, "m", None).await;
        wait_local(&alice, "audio", false, "muteButton", "Unmute").await;
        wait_remote(&bob, "audio", "off", "remoteMuted").await;
        press_key(&alice, "m", Some("dataChannelInput")).await;
        press_key(&alice, "v", Some("dataChannelInput")).await;
        press_key(&alice, "M", None).await;
        wait_local(&alice, "audio", true, "muteButton", "Mute").await;
        wait_local(&alice, "video", true, "cameraButton", "Stop video").await;
        wait_remote(&bob, "audio", "on", "remoteMuted").await;

        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());

        // Fullscreen shows the other person's tile; the picture-in-picture button is there
        // exactly where the browser offers picture-in-picture.
        alice.click("fullscreenButton").await;
        alice
            .wait_until(
                "document.fullscreenElement && document.fullscreenElement.id === 'remoteTile'",
                STEP_TIMEOUT,
                "the remote tile to be full screen",
            )
            .await;
        // The tile covers the page now; Esc (here its script equivalent) leaves.
        alice
            .execute("document.exitFullscreen(); return true;", vec![])
            .await;
        alice
            .wait_until(
                "document.fullscreenElement === null",
                STEP_TIMEOUT,
                "full screen to be left",
            )
            .await;
        alice
            .wait_until(
                "document.getElementById('pipButton').hidden === !document.pictureInPictureEnabled",
                STEP_TIMEOUT,
                "#pipButton hidden exactly where picture-in-picture is unavailable",
            )
            .await;

        // H hangs up.
        press_key(&bob, "h", None).await;
        bob.wait_for_call_state("ended", STEP_TIMEOUT).await;
        alice.wait_for_call_state("ended", STEP_TIMEOUT).await;
    })
    .await;
}

/// The size of the picture `person`'s `localVideo` shows, once it differs from `other` (the
/// size before a switch). Frame sizes, not `getSettings()`: right after `getDisplayMedia` the
/// settings can still name a size the capture then does not deliver.
async fn local_picture_size(person: &Person, other: (u64, u64)) -> (u64, u64) {
    let (w, h) = other;
    person
        .wait_until(
            &format!(
                "(() => {{ const v = document.getElementById('localVideo'); \
                 return v.videoWidth > 0 && (v.videoWidth !== {w} || v.videoHeight !== {h}); }})()"
            ),
            STEP_TIMEOUT,
            &format!("alice's local picture to change from {w}x{h}"),
        )
        .await;
    let sample = person.video_sample("localVideo").await.unwrap_or_default();
    (sample.width, sample.height)
}

/// A JavaScript expression: `remoteVideo` shows a picture of exactly `width` x `height`.
fn remote_size_is(width: u64, height: u64) -> String {
    format!(
        "(() => {{ const v = document.getElementById('remoteVideo'); \
         return v.videoWidth === {width} && v.videoHeight === {height}; }})()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_the_screen_replaces_the_camera_and_keeps_the_call_up() {
    run_browser_test(|ctx| async move {
        // Headless Chromium picks the fake screen itself with this flag.
        let sharer = BrowserOptions {
            args: vec!["--auto-select-desktop-capture-source=Entire screen".to_owned()],
            ..BrowserOptions::default()
        };
        let alice = ctx.person_with_browser("alice", &sharer).await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("screen")).await;

        alice
            .wait_until(
                "document.getElementById('localTile').dataset.source === 'camera'",
                STEP_TIMEOUT,
                "alice's local tile marked as the camera",
            )
            .await;
        let camera = local_picture_size(&alice, (0, 0)).await;
        let seen_before = bob.video_sample("remoteVideo").await;

        for round in 0..2 {
            alice
                .execute(
                    "window.__cameraTrack = document.getElementById('localVideo').srcObject\
                     .getVideoTracks()[0]; return true;",
                    vec![],
                )
                .await;
            alice.click("screenButton").await;
            alice
                .wait_until(
                    "document.getElementById('localTile').dataset.source === 'screen' \
                     && document.getElementById('screenButton').textContent.trim() === 'Stop sharing' \
                     && !document.getElementById('localVideo').classList.contains('mirrored')",
                    STEP_TIMEOUT,
                    "alice's local tile showing the shared screen, un-mirrored",
                )
                .await;
            // The fake screen is captured at another size than the fake camera; once bob's
            // picture has exactly the screen's size, he gets the screen.
            let (width, height) = local_picture_size(&alice, camera).await;
            assert!(
                width > 0 && (width, height) != camera,
                "the fake screen ({width}x{height}) should differ in size from the fake camera \
                 ({camera:?}), or this test cannot tell them apart"
            );
            if let Some(before) = seen_before {
                assert!(
                    (before.width, before.height) != (width, height),
                    "bob already saw {width}x{height} before the share"
                );
            }
            bob.wait_until(
                &remote_size_is(width, height),
                VIDEO_TIMEOUT,
                &format!("bob's remote video to show alice's {width}x{height} screen"),
            )
            .await;
            bob.remote_video_playing().await;
            assert_eq!(alice.call_state().await, "connected");
            assert_eq!(bob.call_state().await, "connected");

            alice
                .execute(
                    "window.__screenTrack = document.getElementById('localVideo').srcObject\
                     .getVideoTracks()[0]; return true;",
                    vec![],
                )
                .await;
            if round == 0 {
                alice.click("screenButton").await;
            } else {
                // The camera was released meanwhile: going back must open it again.
                alice
                    .execute("window.__cameraTrack.stop(); return true;", vec![])
                    .await;
                // The browser's own "Stop sharing" ends the track, which fires `ended`
                // (`track.stop()` from script does not, so the event is sent by hand).
                alice
                    .execute(
                        "const t = document.getElementById('localVideo').srcObject\
                         .getVideoTracks()[0]; t.dispatchEvent(new Event('ended')); return true;",
                        vec![],
                    )
                    .await;
            }
            alice
                .wait_until(
                    "document.getElementById('localTile').dataset.source === 'camera' \
                     && document.getElementById('screenButton').textContent.trim() === 'Share screen' \
                     && document.getElementById('localVideo').classList.contains('mirrored') \
                     && document.getElementById('localVideo').srcObject.getVideoTracks()[0]\
                        .readyState === 'live'",
                    STEP_TIMEOUT,
                    "alice's local tile back on the live camera",
                )
                .await;
            alice
                .wait_until(
                    "window.__screenTrack.readyState === 'ended'",
                    STEP_TIMEOUT,
                    "the screen capture to be stopped",
                )
                .await;
            let reopened = alice
                .execute(
                    "return document.getElementById('localVideo').srcObject.getVideoTracks()[0] \
                     !== window.__cameraTrack;",
                    vec![],
                )
                .await;
            assert_eq!(
                reopened,
                serde_json::json!(round == 1),
                "round {round}: the camera track should be reopened only if it had been stopped"
            );
            bob.wait_until(
                &format!(
                    "!{} && document.getElementById('remoteVideo').videoWidth > 0",
                    remote_size_is(width, height)
                ),
                VIDEO_TIMEOUT,
                "bob's remote video to leave the screen's size (back to the camera)",
            )
            .await;
            bob.remote_video_playing().await;
            assert_eq!(alice.call_state().await, "connected");
            assert_eq!(bob.call_state().await, "connected");
        }
    })
    .await;
}
