//! A closed tab frees its seat at once: when one person closes their tab (or navigates away)
//! mid-call, the page says `leaving` on `pagehide`, and the other person's page ends the call
//! ("The other person left.") within seconds, instead of showing "reconnecting" for the whole
//! grace period kept for lost networks. (A reload still takes its seat back: see
//! `recovery.rs`, `a_reloaded_page_rejoins_its_call_by_itself`.)
//!
//! The first test prints each tab-close-to-`ended` time and their median; the second closes a
//! Firefox tab.

use std::time::{Duration, Instant};

use visavis_e2e::{call_between, room_path, run_browser_test, unique_room, BrowserKind, Person};

/// The promise: the other side reaches `ended` within 5 s of the tab closing.
const ENDED_WITHIN: Duration = Duration::from_secs(5);

/// How many tabs are closed, to report a median.
const ROUNDS: usize = 3;

/// How the tab goes away.
#[derive(Debug, Clone, Copy)]
enum Departure {
    /// The tab is closed (WebDriver's Close Window, after opening a spare tab so the browser
    /// stays up for the next round).
    CloseTab,
    /// The tab navigates to another site.
    NavigateAway,
}

/// Opens the room on both pages and gets them into a call.
async fn start_call(alice: &Person, bob: &Person, room: &str) {
    let path = room_path(room);
    tokio::join!(alice.open(&path), bob.open(&path));
    call_between(alice, bob).await;
}

/// Makes `leaver`'s call tab go away per `how`; returns the moment it started.
async fn leave(leaver: &Person, how: Departure) -> Instant {
    let client = leaver.client();
    match how {
        Departure::CloseTab => {
            let spare = client
                .new_window(true)
                .await
                .unwrap_or_else(|err| panic!("{}: no new tab: {err}", leaver.name()));
            let started = Instant::now();
            client
                .close_window()
                .await
                .unwrap_or_else(|err| panic!("{}: the tab did not close: {err}", leaver.name()));
            client
                .switch_to_window(spare.handle)
                .await
                .unwrap_or_else(|err| {
                    panic!("{}: no switch to the spare tab: {err}", leaver.name())
                });
            started
        }
        Departure::NavigateAway => {
            let started = Instant::now();
            client
                .goto("about:blank")
                .await
                .unwrap_or_else(|err| panic!("{}: could not navigate away: {err}", leaver.name()));
            started
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_tab_ends_the_call_for_the_other_person_within_seconds() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        // One room for every round: the next call in it works only if the closed tab's seat
        // was freed (else the room would be full).
        let room = unique_room("tabclose");
        let mut times = Vec::new();
        for round in 0..ROUNDS {
            let how = if round % 2 == 0 {
                Departure::CloseTab
            } else {
                Departure::NavigateAway
            };
            start_call(&alice, &bob, &room).await;
            let started = leave(&bob, how).await;
            alice.wait_for_call_state("ended", ENDED_WITHIN).await;
            let took = started.elapsed();
            eprintln!("tab close ({how:?}) to ended: {} ms", took.as_millis());
            times.push(took);
            let status = alice.status_text().await;
            assert!(
                status.contains("The other person left"),
                "alice should be told bob left, not that he is reconnecting: {status:?}"
            );
        }
        times.sort();
        eprintln!(
            "tab close to ended: median {} ms over {ROUNDS} ({:?})",
            times[ROUNDS / 2].as_millis(),
            times.iter().map(Duration::as_millis).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firefox_tab_closing_ends_the_call_for_the_other_person_too() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person_in(BrowserKind::Firefox, "firefox-bob").await;
        let room = unique_room("fxclose");
        for how in [Departure::NavigateAway, Departure::CloseTab] {
            start_call(&alice, &bob, &room).await;
            let started = leave(&bob, how).await;
            alice.wait_for_call_state("ended", ENDED_WITHIN).await;
            eprintln!(
                "firefox tab close ({how:?}) to ended: {} ms",
                started.elapsed().as_millis()
            );
            let status = alice.status_text().await;
            assert!(
                status.contains("The other person left"),
                "alice should be told bob left: {status:?}"
            );
        }
    })
    .await;
}
