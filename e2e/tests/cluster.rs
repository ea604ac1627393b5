//! Cluster mode in real browsers: three visavis nodes (child processes) sharing rooms through
//! Redis, behind HAProxy with the configuration docs/deployment.md documents. Two Chromium
//! pages reach two different nodes through the balancer and make a call with video both ways;
//! a node holding one of the pages is killed (SIGKILL), that page reconnects by itself through
//! the balancer and both return to `connected`, while video keeps playing on both sides.
//!
//! Done three times (the killed node starts again after each round), and the time from the
//! kill to both pages `connected` on live sockets is printed with its median (run with
//! `--nocapture`); nothing is asserted about it but the generous recovery limit.

use std::time::{Duration, Instant};

use visavis_e2e::cluster::{ClusterSetup, Haproxy, Node};
use visavis_e2e::{
    connect_pair_at, room_path, run_browser_test_with, unique_room, AppOptions, Person,
};

/// Kill rounds.
const ROUNDS: usize = 3;

/// How long both pages may take to be `connected` again: the dead node's liveness key expires
/// within 3 s, HAProxy marks it down within 2 s, and the client's reconnect backoff is capped
/// at 4 s.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

/// How long a remote video may go without a newly decoded frame and still count as playing:
/// media is peer to peer and must not notice a signaling node dying.
const MAX_FRAME_GAP: Duration = Duration::from_secs(5);

struct World {
    _setup: ClusterSetup,
    nodes: Vec<Node>,
    haproxy: Haproxy,
}

/// Open sockets per node, as each node's own gauge says (0 for a node that is down).
fn sockets(nodes: &[Node]) -> Vec<u32> {
    tokio::task::block_in_place(|| nodes.iter().map(Node::sockets).collect())
}

async fn remote_frames(person: &Person) -> u64 {
    person
        .video_sample("remoteVideo")
        .await
        .map_or(0, |sample| sample.frames)
}

/// How many times both pages together have been told `rejoined` (the client marks every
/// message it receives as `visavis:recv:<type>`).
async fn rejoins(people: [&Person; 2]) -> u64 {
    let mut total = 0;
    for person in people {
        let count = person
            .execute(
                "return performance.getEntriesByName('visavis:recv:rejoined').length",
                vec![],
            )
            .await;
        total += count.as_u64().unwrap_or(0);
    }
    total
}

/// Polls both pages until a page has taken its seat back since the kill (`rejoins_before`
/// was the count before it) or left `connected` at some point, and both are `connected` with
/// two sockets on live nodes; checks all along that both remote videos keep decoding frames.
/// A page can rejoin so fast that its call state never visibly leaves `connected`, which is
/// why a rejoin counts as well. Returns the time since `killed`.
async fn recover(
    people: [&Person; 2],
    nodes: &[Node],
    killed: Instant,
    rejoins_before: u64,
) -> Duration {
    let deadline = killed + RECOVERY_LIMIT;
    let mut disturbed = false;
    let mut frames = [(0u64, Instant::now()); 2];
    loop {
        let mut connected = 0;
        for (index, person) in people.iter().enumerate() {
            if person.call_state().await == "connected" {
                connected += 1;
            } else {
                disturbed = true;
            }
            let now = remote_frames(person).await;
            if now != frames[index].0 {
                frames[index] = (now, Instant::now());
            }
            assert!(
                frames[index].1.elapsed() < MAX_FRAME_GAP,
                "{}: the remote video stopped for {MAX_FRAME_GAP:?} while a node was down; {}",
                person.name(),
                person.describe().await
            );
        }
        let live: u32 = sockets(nodes).iter().sum();
        if connected == 2 && live == 2 && (disturbed || rejoins(people).await > rejoins_before) {
            return killed.elapsed();
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes
                .iter()
                .map(|node| format!("---- {} ----\n{}", node.id, node.log_tail()))
                .collect();
            panic!(
                "not recovered within {RECOVERY_LIMIT:?} (disturbed {disturbed}, connected \
                 {connected}, live sockets {live}); alice: {}; bob: {}\n{}",
                people[0].describe().await,
                people[1].describe().await,
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_balancer_survives_killing_a_node() {
    run_browser_test_with(
        || async {
            let setup = ClusterSetup::start()?;
            let nodes = tokio::task::block_in_place(|| {
                (1..=3)
                    .map(|i| setup.start_node(&format!("n{i}")))
                    .collect::<anyhow::Result<Vec<Node>>>()
            })?;
            let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
            let haproxy = tokio::task::block_in_place(|| Haproxy::start(&ports))?;
            let world = World {
                _setup: setup,
                nodes,
                haproxy,
            };
            Ok((AppOptions::new(), world))
        },
        |ctx, world| async move {
            // The whole world, Redis included, lives as long as the body (an async block would
            // otherwise capture only the fields it names).
            let mut world = world;
            let mut alice = ctx.person("alice").await;
            let mut bob = ctx.person("bob").await;
            alice.use_base_url(&world.haproxy.base_url());
            bob.use_base_url(&world.haproxy.base_url());
            let room = unique_room("cluster");
            connect_pair_at(&alice, &bob, &room_path(&room)).await;
            let counts = sockets(&world.nodes);
            assert_eq!(
                counts.iter().filter(|&&count| count == 1).count(),
                2,
                "the two pages' sockets are on two different nodes: {counts:?}"
            );

            let mut times = Vec::with_capacity(ROUNDS);
            for round in 1..=ROUNDS {
                let victim = sockets(&world.nodes)
                    .iter()
                    .position(|&count| count > 0)
                    .expect("a node holds a page's socket");
                let rejoins_before = rejoins([&alice, &bob]).await;
                let killed = Instant::now();
                world.nodes[victim].kill();
                let took = recover([&alice, &bob], &world.nodes, killed, rejoins_before).await;
                eprintln!(
                    "round {round}: {} killed; both pages connected again after {} ms (sockets \
                     per node now {:?})",
                    world.nodes[victim].id,
                    took.as_millis(),
                    sockets(&world.nodes)
                );
                times.push(took);
                tokio::task::block_in_place(|| world.nodes[victim].start_again())
                    .expect("the killed node starts again");
            }
            times.sort();
            eprintln!(
                "back to connected after a node was killed: median {} ms over {ROUNDS} rounds ({:?})",
                times[times.len() / 2].as_millis(),
                times.iter().map(Duration::as_millis).collect::<Vec<_>>()
            );
            tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        },
    )
    .await;
}
