//! What phones need from a call, checked in real Chromium with its one fake camera and fake
//! microphone: the local preview is mirrored (a camera of unknown facing is taken for a
//! user-facing webcam) and the remote video is not; the flip button is hidden without a front
//! and a back camera; the screen wake lock is asked for once the call connects and let go on
//! hang-up (held where the browser grants it, and the page copes where it refuses); music mode
//! turns the microphone's echo cancellation, noise suppression and gain control off on the live
//! track; and our encoder is asked for Opus FEC even by a peer whose description leaves it out.
//! (A shared screen is never mirrored: `call_controls.rs` checks that.)

use serde_json::{json, Value};
use visavis_e2e::{
    call_between, connect_pair, room_path, run_browser_test, unique_room, Person, STEP_TIMEOUT,
};

/// The local audio track's processing settings, as `getSettings()` reports them.
async fn audio_settings(person: &Person) -> Value {
    person
        .execute(
            "const t = document.getElementById('localVideo').srcObject.getAudioTracks()[0];\n\
             const s = t.getSettings();\n\
             return { echo: s.echoCancellation, noise: s.noiseSuppression, gain: s.autoGainControl,\n\
                      state: t.readyState };",
            vec![],
        )
        .await
}

/// Waits until the local audio track runs with `echo`, `noise` and `gain` (and is live); fails
/// with the last settings seen.
async fn wait_for_audio(person: &Person, echo: bool, noise: bool, gain: bool, what: &str) {
    let wanted = json!({"echo": echo, "noise": noise, "gain": gain, "state": "live"});
    let deadline = std::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let now = audio_settings(person).await;
        if now == wanted {
            return;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "{}: {what}: the microphone runs with {now}, not {wanted}",
                person.name()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A JavaScript expression: the wake lock's state on the page is one of `states`.
fn wake_lock_in(states: &[&str]) -> String {
    format!("{}.includes(document.body.dataset.wakeLock)", json!(states))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fake_camera_is_mirrored_offers_no_flip_and_the_screen_is_kept_on_in_the_call() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        // Bob's browser grants the wake lock (headless Chromium asks for the permission); Alice's
        // is left as it comes, and her page must cope with whatever it answers.
        bob.devtools(
            "Browser.grantPermissions",
            json!({ "permissions": ["wakeLockScreen"] }),
        )
        .await
        .expect("Chromium grants permissions through DevTools");
        let path = room_path(&unique_room("phone"));
        tokio::join!(alice.open(&path), bob.open(&path));
        // The pre-join preview of the fake camera (no facing: a webcam) is mirrored too.
        alice
            .wait_until(
                "(() => { const v = document.getElementById('previewVideo');\
                 return v !== null && v.videoWidth > 0 && v.classList.contains('mirrored'); })()",
                STEP_TIMEOUT,
                "the pre-join preview showing the camera, mirrored",
            )
            .await;
        call_between(&alice, &bob).await;
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());

        for person in [&alice, &bob] {
            let mirrored = person
                .execute(
                    "const local = document.getElementById('localVideo');\n\
                     const remote = document.getElementById('remoteVideo');\n\
                     const facing = local.srcObject.getVideoTracks()[0].getSettings().facingMode;\n\
                     return { local: local.classList.contains('mirrored'),\n\
                              remote: remote.classList.contains('mirrored'),\n\
                              facing: facing === undefined ? null : facing };",
                    vec![],
                )
                .await;
            eprintln!("{}: {mirrored}", person.name());
            assert_eq!(
                mirrored["local"],
                json!(true),
                "{}: the preview of a user-facing (or unknown-facing) camera is mirrored: {mirrored}",
                person.name()
            );
            assert_eq!(
                mirrored["remote"],
                json!(false),
                "{}: the other person's video is never mirrored",
                person.name()
            );
            let flip = person
                .execute(
                    "const b = document.getElementById('flipCameraButton');\n\
                     return b === null ? 'missing' : b.hidden;",
                    vec![],
                )
                .await;
            assert_eq!(
                flip,
                json!(true),
                "{}: one fake camera has no front and back to flip between",
                person.name()
            );
        }

        bob.wait_until(
            &wake_lock_in(&["held"]),
            STEP_TIMEOUT,
            "bob's wake lock held in the call (permission granted)",
        )
        .await;
        alice
            .wait_until(
                &wake_lock_in(&["held", "refused"]),
                STEP_TIMEOUT,
                "alice's wake lock asked for in the call (held or refused)",
            )
            .await;
        eprintln!(
            "alice's wake lock without a grant: {}",
            alice
                .execute("return document.body.dataset.wakeLock;", vec![])
                .await
        );
        assert_eq!(alice.call_state().await, "connected", "the call goes on");

        alice.click("hangupButton").await;
        for person in [&alice, &bob] {
            person.wait_for_call_state("ended", STEP_TIMEOUT).await;
            person
                .wait_until(
                    &wake_lock_in(&["released"]),
                    STEP_TIMEOUT,
                    "the wake lock let go of after the call",
                )
                .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn music_mode_turns_the_microphones_processing_off_and_on_again() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        alice.watch_peer_connections().await;
        connect_pair(&alice, &bob, &unique_room("music")).await;

        let before = audio_settings(&alice).await;
        eprintln!("speech: {before}");
        assert_eq!(
            before,
            json!({"echo": true, "noise": true, "gain": true, "state": "live"}),
            "a call starts with every speech filter on"
        );
        alice.click("settingsButton").await;
        alice.click("musicModeToggle").await;
        wait_for_audio(&alice, false, false, false, "music mode").await;
        assert_eq!(
            alice
                .execute(
                    "return document.getElementById('voiceCleanupToggle').disabled;",
                    vec![]
                )
                .await,
            json!(true),
            "the speech toggle means nothing in music mode"
        );
        // The track that is sent is the one with the new settings.
        let sent = alice
            .execute(
                "const local = document.getElementById('localVideo').srcObject.getAudioTracks()[0];\n\
                 const all = window.__visavisE2ePeerConnections || [];\n\
                 const pc = all.filter((p) => p.connectionState !== 'closed').pop();\n\
                 const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'audio');\n\
                 return sender ? sender.track.id === local.id : 'no audio sender';",
                vec![],
            )
            .await;
        assert_eq!(sent, json!(true), "the audio sender sends the local track");

        alice.click("musicModeToggle").await;
        wait_for_audio(&alice, true, true, true, "music mode off").await;
        alice.click("voiceCleanupToggle").await;
        wait_for_audio(&alice, true, false, false, "speech filters off").await;
        eprintln!("speech filters off: {}", audio_settings(&alice).await);
        bob.remote_video_playing().await;
    })
    .await;
}

/// Runs before the app on Alice's pages: every offer and answer she sends loses its
/// `useinbandfec=1`, as from a browser that does not ask for FEC. Counts what it stripped.
const STRIP_FEC: &str = r#"(() => {
  const send = WebSocket.prototype.send;
  window.__visavisE2eFecStripped = 0;
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string') {
      try {
        const message = JSON.parse(data);
        if ((message.type === 'invite' || message.type === 'ok') && typeof message.sdp === 'string'
            && message.sdp.includes('useinbandfec=1')) {
          message.sdp = message.sdp.replace(/;useinbandfec=1/g, '').replace(/useinbandfec=1;?/g, '');
          window.__visavisE2eFecStripped += 1;
          data = JSON.stringify(message);
        }
      } catch (e) { /* not JSON: sent as it is */ }
    }
    return send.call(this, data);
  };
})();"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_description_asks_our_encoder_for_opus_fec() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        alice
            .devtools(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": STRIP_FEC }),
            )
            .await
            .expect("the SDP filter is installed");
        bob.watch_peer_connections().await;
        connect_pair(&alice, &bob, &unique_room("opus")).await;

        let stripped = alice
            .execute("return window.__visavisE2eFecStripped;", vec![])
            .await;
        assert!(
            stripped.as_u64().is_some_and(|n| n > 0),
            "alice's descriptions should have been sent without FEC ({stripped})"
        );
        let remote = bob
            .execute(
                "const all = window.__visavisE2ePeerConnections || [];\n\
                 const pc = all.filter((p) => p.connectionState !== 'closed').pop();\n\
                 const sdp = pc && pc.remoteDescription ? pc.remoteDescription.sdp : '';\n\
                 const opus = [...sdp.matchAll(/a=rtpmap:(\\d+) opus\\//gi)].map((m) => m[1]);\n\
                 return { opus, fmtp: opus.map((pt) => (sdp.match(new RegExp('a=fmtp:' + pt + ' [^\\r\\n]*')) || [''])[0]) };",
                vec![],
            )
            .await;
        eprintln!("bob's remote description, Opus: {remote}");
        let fmtp = remote["fmtp"].as_array().cloned().unwrap_or_default();
        assert!(!fmtp.is_empty(), "alice's description has Opus: {remote}");
        for line in fmtp {
            assert!(
                line.as_str().is_some_and(|l| l.contains("useinbandfec=1")),
                "bob's remote description asks his encoder for FEC on every Opus format: {remote}"
            );
        }
    })
    .await;
}
