//! Two people in a real call: headless browsers with fake cameras against the real server.
//!
//! Each test starts its own app, WebDriver server and browsers; the harness runs them one at a
//! time within this binary, so plain `cargo test -p visavis-e2e` is safe on a small machine.

use visavis_e2e::{
    call_between, connect_pair, room_path, run_browser_test, unique_room, Person, STEP_TIMEOUT,
};

/// Asserts that the chat log of `person` holds `text` as text, not markup.
async fn assert_chat_shows(person: &Person, text: &str) {
    person.wait_for_chat_text(text).await;
}

/// Hangs up on `hanger`'s side and checks that both sides end and both cameras are released.
async fn hang_up_releases_both_cameras(hanger: &Person, other: &Person) {
    let other_tracks = other.remember_local_stream().await;
    assert!(
        other_tracks > 0,
        "{}'s localVideo should show a camera stream before the hang-up (it had {other_tracks} tracks)",
        other.name()
    );

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
    let (tracks, all_ended) = other.remembered_stream_tracks().await;
    assert!(
        all_ended,
        "{}'s camera should be released once its page says the call ended, but the local \
         stream's tracks were {tracks:?}",
        other.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_in_one_room_see_and_hear_each_other() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("video")).await;

        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
        tokio::join!(alice.local_video_showing(), bob.local_video_showing());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_reach_the_other_side_in_both_directions() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("chat")).await;

        alice.send_chat("hello from alice").await;
        assert_chat_shows(&bob, "hello from alice").await;
        assert_chat_shows(&alice, "hello from alice").await;

        bob.send_chat("hello from bob").await;
        assert_chat_shows(&alice, "hello from bob").await;
        assert_chat_shows(&bob, "hello from bob").await;

        alice.send_chat_with_enter("alice pressed enter").await;
        assert_chat_shows(&bob, "alice pressed enter").await;

        bob.send_chat_with_enter("bob pressed enter").await;
        assert_chat_shows(&alice, "bob pressed enter").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_person_finds_the_room_full_and_the_call_goes_on() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let carol = ctx.person("carol").await;
        let room = unique_room("full");
        connect_pair(&alice, &bob, &room).await;

        carol.open(&room_path(&room)).await;
        carol.click("callButton").await;
        carol.wait_for_call_state("full", STEP_TIMEOUT).await;
        let status = carol.status_text().await;
        assert!(
            status.to_lowercase().contains("full"),
            "the third person's status line should say the room is full, but it says {status:?}"
        );

        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        alice.send_chat("still here after carol").await;
        assert_chat_shows(&bob, "still here after carol").await;
        assert_eq!(
            carol.call_state().await,
            "full",
            "the third person's state should stay full"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_ends_the_call_on_both_sides_and_releases_both_cameras() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("hangup")).await;

        hang_up_releases_both_cameras(&alice, &bob).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_call_in_the_same_pages_works_after_a_hang_up() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("again")).await;
        hang_up_releases_both_cameras(&bob, &alice).await;

        call_between(&alice, &bob).await;
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        tokio::join!(alice.local_video_showing(), bob.local_video_showing());

        alice.send_chat("second call from alice").await;
        assert_chat_shows(&bob, "second call from alice").await;
        bob.send_chat_with_enter("second call from bob").await;
        assert_chat_shows(&alice, "second call from bob").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messy_typed_room_name_joins_both_people_in_the_same_room() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let carol = ctx.person("carol").await;
        let suffix = unique_room("x");
        let typed = format!("  My Room! {suffix} ");

        tokio::join!(alice.open("/"), bob.open("/"));
        alice.type_into("roomName", &typed).await;
        bob.type_into("roomName", &typed).await;
        call_between(&alice, &bob).await;
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());

        // The room they share is the normalised one: its link is full now.
        let normalised = visavis_shared::RoomName::from_user_input(&typed)
            .expect("the typed name normalises to a room name");
        carol.open(&room_path(normalised.as_str())).await;
        carol.click("callButton").await;
        carol.wait_for_call_state("full", STEP_TIMEOUT).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_shows_markup_as_plain_text_and_never_runs_it() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("xss")).await;

        let payload = r#"<img src=x onerror="document.body.dataset.pwned=1"><b>bold</b>"#;
        alice.send_chat(payload).await;
        assert_chat_shows(&bob, payload).await;
        assert_chat_shows(&alice, payload).await;

        for person in [&alice, &bob] {
            let verdict = person
                .execute(
                    "const out = document.getElementById('dataChannelOutput');\n\
                     return { elements: out.querySelectorAll('img, b').length,\n\
                              pwned: document.body.dataset.pwned === undefined\n\
                                  ? null : String(document.body.dataset.pwned) };",
                    vec![],
                )
                .await;
            assert_eq!(
                verdict["elements"],
                serde_json::json!(0),
                "{}'s chat log holds <img>/<b> elements made from a message",
                person.name()
            );
            assert_eq!(
                verdict["pwned"],
                serde_json::Value::Null,
                "{}'s page ran the markup of a chat message",
                person.name()
            );
        }
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
    })
    .await;
}

/// The Caller's peer connection is opened while it waits alone (so that only the offer is left
/// when the other person arrives). Leaving before anyone came must close it and release the
/// camera, and the next call in the same page must still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_while_alone_closes_the_prepared_connection_and_releases_the_camera() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        alice.watch_peer_connections().await;
        let room = unique_room("alone");
        let path = room_path(&room);
        tokio::join!(alice.open(&path), bob.open(&path));

        alice.click("callButton").await;
        alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
        // Prepared: one connection with our tracks, not negotiated with anyone yet.
        alice
            .wait_until(
                "(() => { const pcs = window.__visavisE2ePeerConnections || [];\n\
                 return pcs.length === 1 && pcs[0].signalingState === 'stable'\n\
                     && pcs[0].getSenders().some(s => s.track && s.track.kind === 'video')\n\
                     && pcs[0].localDescription === null; })()",
                STEP_TIMEOUT,
                "the Caller's peer connection is prepared while it waits alone",
            )
            .await;

        let report = alice.hang_up_and_check_camera().await;
        assert_eq!(
            report.state, "ended",
            "alice's call state after hanging up alone"
        );
        assert!(
            report.all_tracks_ended,
            "alice's camera should be released after leaving an empty room, but the local \
             stream's tracks were {:?}",
            report.tracks
        );
        alice
            .wait_until(
                "(() => { const pcs = window.__visavisE2ePeerConnections || [];\n\
                 return pcs.length === 1 && pcs[0].signalingState === 'closed'; })()",
                STEP_TIMEOUT,
                "the prepared peer connection is closed once alice left",
            )
            .await;

        // The room was freed, and a call from the same page works as before.
        call_between(&alice, &bob).await;
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
    })
    .await;
}
