//! Many rooms at once: every client hears exactly its own partner.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Barrier;
use tokio::time::timeout;

use crate::helpers::{sample_candidate, sample_sdp, seated_pair, spawn_app};

const ROOMS: usize = 200;

/// How long a pair waits for all the others to reach the same step.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

async fn wait_for_all(barrier: &Barrier, step: &str) {
    timeout(STEP_TIMEOUT, barrier.wait())
        .await
        .unwrap_or_else(|_| panic!("the other pairs did not reach step {step:?} in time"));
}

/// One pair's part: take seats, wait until every room is full, exchange distinct messages
/// with the partner, and check that nothing else arrives.
async fn run_pair(port: u16, index: usize, barrier: Arc<Barrier>) {
    let room = format!("room-{index}");
    let (mut caller, mut callee) = seated_pair(port, &room).await;
    wait_for_all(&barrier, "seated").await;

    let invite = json!({"type": "invite", "sdp": sample_sdp(&format!("offer{index}"))});
    let caller_candidate =
        json!({"type": "ice_candidate", "candidate": sample_candidate(&format!("caller{index}"))});
    let ok = json!({"type": "ok", "sdp": sample_sdp(&format!("answer{index}"))});
    let callee_candidate =
        json!({"type": "ice_candidate", "candidate": sample_candidate(&format!("callee{index}"))});

    caller.send_json(invite.clone()).await;
    caller.send_json(caller_candidate.clone()).await;
    callee.send_json(ok.clone()).await;
    callee.send_json(callee_candidate.clone()).await;

    assert_eq!(
        callee.recv_json().await,
        invite,
        "{room}: the callee's first message"
    );
    assert_eq!(
        callee.recv_json().await,
        caller_candidate,
        "{room}: the callee's second message"
    );
    assert_eq!(
        caller.recv_json().await,
        ok,
        "{room}: the caller's first message"
    );
    assert_eq!(
        caller.recv_json().await,
        callee_candidate,
        "{room}: the caller's second message"
    );

    // Every pair has sent and received everything; any stray message is already on its way.
    wait_for_all(&barrier, "exchanged").await;
    tokio::join!(caller.expect_nothing(), callee.expect_nothing());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_rooms_at_once_have_no_cross_talk() {
    let app = spawn_app().await;
    let barrier = Arc::new(Barrier::new(ROOMS));

    let pairs: Vec<_> = (0..ROOMS)
        .map(|index| tokio::spawn(run_pair(app.port, index, Arc::clone(&barrier))))
        .collect();

    for (index, pair) in pairs.into_iter().enumerate() {
        if let Err(err) = pair.await {
            // Show the pair's own panic message rather than a generic join error.
            match err.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(err) => panic!("pair {index} did not finish: {err}"),
            }
        }
    }
}
