//! Chromium and Firefox ESR in one call: the two browsers negotiate with each other's SDP,
//! ICE and data channels against the real server, each with its fake camera.
//!
//! Each test starts one chromedriver and one geckodriver (the harness starts the second driver
//! when the first Firefox person is created) and runs one at a time within this binary. Firefox
//! headless counts no decoded frames, so its remote video counts as playing once it has a size
//! and its `currentTime` advances (see `Person::remote_video_playing`).

use visavis_e2e::{
    call_between, room_path, run_browser_test, unique_room, BrowserKind, Person, STEP_TIMEOUT,
};

/// Both people open the room; `caller` clicks Call first, `callee` second; both reach
/// `connected` and both see the other's video playing and their own camera.
async fn call_and_see_each_other(caller: &Person, callee: &Person, room: &str) {
    let path = room_path(room);
    tokio::join!(caller.open(&path), callee.open(&path));
    call_between(caller, callee).await;
    assert_eq!(caller.call_state().await, "connected");
    assert_eq!(callee.call_state().await, "connected");
    tokio::join!(caller.remote_video_playing(), callee.remote_video_playing());
    tokio::join!(caller.local_video_showing(), callee.local_video_showing());
}

/// Chat both ways, with the Send button and with Enter; each message shows on both sides.
async fn chat_both_ways(a: &Person, b: &Person) {
    let from_a = format!("hello from {}", a.name());
    a.send_chat(&from_a).await;
    tokio::join!(b.wait_for_chat_text(&from_a), a.wait_for_chat_text(&from_a));

    let from_b = format!("hello from {}", b.name());
    b.send_chat(&from_b).await;
    tokio::join!(a.wait_for_chat_text(&from_b), b.wait_for_chat_text(&from_b));

    let enter_a = format!("{} pressed enter", a.name());
    a.send_chat_with_enter(&enter_a).await;
    b.wait_for_chat_text(&enter_a).await;

    let enter_b = format!("{} pressed enter", b.name());
    b.send_chat_with_enter(&enter_b).await;
    a.wait_for_chat_text(&enter_b).await;
}

/// `hanger` hangs up; both pages end the call and `hanger`'s camera is released.
async fn hang_up_ends_both(hanger: &Person, other: &Person) {
    let report = hanger.hang_up_and_check_camera().await;
    assert_eq!(
        report.state,
        "ended",
        "{}'s call state after clicking hangupButton",
        hanger.name()
    );
    assert!(
        report.all_tracks_ended,
        "{}'s camera should be released once the call has ended, but the local stream's tracks \
         were {:?}",
        hanger.name(),
        report.tracks
    );
    other.wait_for_call_state("ended", STEP_TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_calls_firefox_and_both_see_and_chat_until_chromium_hangs_up() {
    run_browser_test(|ctx| async move {
        let chromium = ctx.person_in(BrowserKind::Chromium, "chromium-alice").await;
        let firefox = ctx.person_in(BrowserKind::Firefox, "firefox-bob").await;

        call_and_see_each_other(&chromium, &firefox, &unique_room("cr-to-ff")).await;
        chat_both_ways(&chromium, &firefox).await;
        hang_up_ends_both(&chromium, &firefox).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_calls_chromium_and_both_see_and_chat_until_firefox_hangs_up() {
    run_browser_test(|ctx| async move {
        let firefox = ctx.person_in(BrowserKind::Firefox, "firefox-alice").await;
        let chromium = ctx.person_in(BrowserKind::Chromium, "chromium-bob").await;

        call_and_see_each_other(&firefox, &chromium, &unique_room("ff-to-cr")).await;
        chat_both_ways(&firefox, &chromium).await;
        hang_up_ends_both(&firefox, &chromium).await;
    })
    .await;
}
