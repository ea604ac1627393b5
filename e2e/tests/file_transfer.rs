//! File transfer between two people in a real call: a large file arrives intact (checked by
//! SHA-256 computed here and, independently, by the receiving page from the download link),
//! progress is shown, either side can cancel, names and room names with markup stay inert
//! text, and the operator's size limit is enforced.
//!
//! Files are handed to the page the way a person picks them: WebDriver types the file's path
//! into `#fileInput` (chromedriver turns that into a file selection, since the browser runs on
//! this machine).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use visavis_e2e::{
    connect_pair, room_path, run_browser_test, run_browser_test_with, unique_room, AppOptions,
    Person, STEP_TIMEOUT,
};

/// How long a transfer of tens of MiB over loopback may take (generous: two browsers and the
/// test share two cores).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// How often the test samples the pages while a transfer runs: fast, to catch the bars
/// mid-way.
const FAST_POLL: Duration = Duration::from_millis(25);

const MIB: usize = 1024 * 1024;

/// Writes `len` pseudo-random bytes (xorshift64*, seeded) to `dir/name`; returns the path and
/// the SHA-256 in lowercase hex.
fn write_random_file(dir: &Path, name: &str, len: usize, seed: u64) -> (PathBuf, String) {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    bytes.truncate(len);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("writing the test file");
    (path, hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("visavis-e2e-files-")
        .tempdir()
        .expect("creating a directory for test files")
}

/// Picks `path` in `person`'s file input, once it is enabled (the file channel is open).
async fn pick_file(person: &Person, path: &Path) {
    person.wait_for_enabled("fileInput").await;
    let input = match person.client().find(Locator::Id("fileInput")).await {
        Ok(input) => input,
        Err(error) => panic!("{} has no #fileInput: {error}", person.name()),
    };
    let path = path.to_str().expect("test paths are UTF-8");
    if let Err(error) = input.send_keys(path).await {
        panic!("{} could not pick {path}: {error}", person.name());
    }
}

/// A CSS selector for one row of `#fileTransfers`.
fn row_selector(direction: &str, id: &str) -> String {
    format!("#fileTransfers .file-transfer[data-direction=\"{direction}\"][data-id=\"{id}\"]")
}

/// Waits for the newest row of `direction` to appear after `before` rows existed; gives its id.
async fn wait_for_new_row(person: &Person, direction: &str, before: u64) -> String {
    let selector = format!("#fileTransfers .file-transfer[data-direction=\"{direction}\"]");
    let literal = json!(selector).to_string();
    person
        .wait_until(
            &format!("document.querySelectorAll({literal}).length > {before}"),
            STEP_TIMEOUT,
            &format!("a new {direction} transfer row"),
        )
        .await;
    let id = person
        .execute(
            "const rows = document.querySelectorAll(arguments[0]);\n\
             return rows[rows.length - 1].dataset.id;",
            vec![json!(selector)],
        )
        .await;
    id.as_str().expect("rows carry data-id").to_owned()
}

/// How many rows of `direction` the person's list holds.
async fn row_count(person: &Person, direction: &str) -> u64 {
    person
        .execute(
            "return document.querySelectorAll(\
             '#fileTransfers .file-transfer[data-direction=\"' + arguments[0] + '\"]').length;",
            vec![json!(direction)],
        )
        .await
        .as_u64()
        .unwrap_or(0)
}

/// Waits until the row is in `state`; fails at once if it reaches another final state.
async fn wait_for_row_state(person: &Person, direction: &str, id: &str, state: &str) {
    let selector = json!(row_selector(direction, id)).to_string();
    let literal = json!(state).to_string();
    person
        .wait_until(
            &format!(
                "(() => {{ const row = document.querySelector({selector});\n\
                 if (!row) return false;\n\
                 const s = row.dataset.state;\n\
                 if (s === {literal}) return true;\n\
                 if (['done', 'cancelled', 'failed'].includes(s)) \
                   throw new Error('the row ended ' + s + ': ' + row.textContent);\n\
                 return false; }})()"
            ),
            TRANSFER_TIMEOUT,
            &format!("the {direction} transfer {id} to be {state}"),
        )
        .await;
}

/// The row's attributes and texts.
async fn row_info(person: &Person, direction: &str, id: &str) -> Value {
    person
        .execute(
            "const row = document.querySelector(arguments[0]);\n\
             if (!row) return null;\n\
             const link = row.querySelector('.file-download');\n\
             const bar = row.querySelector('.file-progress');\n\
             return { state: row.dataset.state, sha256: row.dataset.sha256 ?? null,\n\
                      name: row.querySelector('.file-name').textContent,\n\
                      text: row.textContent,\n\
                      value: bar ? Number(bar.getAttribute('value')) : null,\n\
                      max: bar ? Number(bar.getAttribute('max')) : null,\n\
                      href: link ? link.href : null,\n\
                      download: link ? link.getAttribute('download') : null };",
            vec![json!(row_selector(direction, id))],
        )
        .await
}

/// Starts recording, inside the page, every change of a progress bar's `value` and of a row's
/// `data-state`: whether a bar was ever shown strictly between 0 and its max, and when the
/// newest incoming row appeared and was verified (for the throughput).
async fn watch_progress(person: &Person) {
    person
        .execute(
            r#"const seen = { mid: 0, updates: 0, firstIncoming: null, incomingDone: null };
window.__e2eFiles = seen;
const look = () => {
  for (const bar of document.querySelectorAll('#fileTransfers .file-progress')) {
    const value = Number(bar.getAttribute('value')), max = Number(bar.getAttribute('max'));
    seen.updates++;
    if (value > 0 && value < max) seen.mid++;
  }
  const incoming = document.querySelector('#fileTransfers .file-transfer[data-direction="incoming"]');
  if (incoming && seen.firstIncoming === null) seen.firstIncoming = performance.now();
  if (incoming && incoming.dataset.state === 'done' && seen.incomingDone === null)
    seen.incomingDone = performance.now();
};
new MutationObserver(look).observe(document.body,
  { subtree: true, childList: true, attributes: true, attributeFilter: ['value', 'data-state'] });"#,
            vec![],
        )
        .await;
}

/// What [`watch_progress`] recorded.
async fn progress_seen(person: &Person) -> Value {
    person
        .execute("return window.__e2eFiles ?? null;", vec![])
        .await
}

/// Downloads the row's file the way a person does (a click on its download link) into a fresh
/// directory, and gives the SHA-256 of the file on disk.
///
/// The page's own `fetch(a.href)` cannot be used: the server's Content-Security-Policy
/// (`connect-src 'self' ws…`) does not list `blob:`, so the browser refuses it. A download is a
/// navigation, which that directive does not govern, and it checks the same bytes.
async fn download_sha256(person: &Person, direction: &str, id: &str, expected_len: u64) -> String {
    let dir = temp_dir();
    let allowed = person
        .devtools(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": dir.path() }),
        )
        .await;
    if let Err(error) = allowed {
        panic!("{}: could not allow downloads: {error}", person.name());
    }
    let selector = format!("{} .file-download", row_selector(direction, id));
    let link = match person.client().find(Locator::Css(&selector)).await {
        Ok(link) => link,
        Err(error) => panic!("{} has no download link: {error}", person.name()),
    };
    let name = match link.attr("download").await {
        Ok(Some(name)) => name,
        other => panic!("{}'s download link has no name: {other:?}", person.name()),
    };
    if let Err(error) = link.click().await {
        panic!(
            "{} could not click the download link: {error}",
            person.name()
        );
    }
    // Chromium writes `<name>.crdownload` and renames it once complete.
    let path = dir.path().join(&name);
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let len = std::fs::metadata(&path).map(|m| m.len()).ok();
        if len == Some(expected_len) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}'s download of {name:?} did not complete (size {len:?}, files {:?})",
            person.name(),
            std::fs::read_dir(dir.path())
                .map(|entries| entries.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bytes = std::fs::read(&path).expect("reading the downloaded file");
    hex(&Sha256::digest(&bytes))
}

/// Whether the page ran any injected markup: `document.body.dataset.pwned`, if set.
async fn pwned(person: &Person) -> Value {
    person
        .execute(
            "return document.body.dataset.pwned === undefined \
             ? null : String(document.body.dataset.pwned);",
            vec![],
        )
        .await
}

/// Sends `path` from `sender` to `receiver` and waits until the receiver has verified it;
/// returns the transfer id.
async fn transfer(sender: &Person, receiver: &Person, path: &Path) -> String {
    let before = row_count(sender, "outgoing").await;
    pick_file(sender, path).await;
    let id = wait_for_new_row(sender, "outgoing", before).await;
    wait_for_row_state(receiver, "incoming", &id, "done").await;
    wait_for_row_state(sender, "outgoing", &id, "done").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mib_file_arrives_intact_with_progress_shown_on_both_sides() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("file")).await;

        let dir = temp_dir();
        let size = 20 * MIB;
        let (path, expected) = write_random_file(dir.path(), "random-20MiB.bin", size, 0x5eed);
        tokio::join!(watch_progress(&alice), watch_progress(&bob));
        tokio::join!(alice.wait_for_enabled("fileInput"), bob.wait_for_enabled("fileInput"));

        let started = Instant::now();
        pick_file(&alice, &path).await;
        let id = wait_for_new_row(&alice, "outgoing", 0).await;

        // Sample both bars fast until the receiver is finished, counting mid-way values.
        let mut polled_mid = [0u32; 2];
        let deadline = Instant::now() + TRANSFER_TIMEOUT;
        let finished_at = loop {
            let (a, b) = tokio::join!(
                row_info(&alice, "outgoing", &id),
                row_info(&bob, "incoming", &id)
            );
            for (i, row) in [&a, &b].into_iter().enumerate() {
                let (value, max) = (row["value"].as_f64(), row["max"].as_f64());
                if let (Some(value), Some(max)) = (value, max) {
                    if value > 0.0 && value < max {
                        polled_mid[i] += 1;
                    }
                }
            }
            match b["state"].as_str() {
                Some("done") => break started.elapsed(),
                Some("failed" | "cancelled") => panic!("bob's transfer ended badly: {b}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "the transfer did not finish within {TRANSFER_TIMEOUT:?}: alice {a}, bob {b}"
            );
            tokio::time::sleep(FAST_POLL).await;
        };
        wait_for_row_state(&alice, "outgoing", &id, "done").await;

        let (seen_alice, seen_bob) = tokio::join!(progress_seen(&alice), progress_seen(&bob));
        let in_page_mid = seen_alice["mid"].as_u64().unwrap_or(0) + seen_bob["mid"].as_u64().unwrap_or(0);
        eprintln!(
            "progress: polled mid-way values alice {} bob {}; in-page mid-way bar values alice {} \
             bob {}",
            polled_mid[0], polled_mid[1], seen_alice["mid"], seen_bob["mid"]
        );
        assert!(
            in_page_mid > 0 || polled_mid.iter().sum::<u32>() > 0,
            "no progress bar was ever seen strictly between 0 and its max: alice {seen_alice}, \
             bob {seen_bob}"
        );

        // Throughput: in the receiving page, from the offer's row appearing to verification.
        let in_page_ms = match (seen_bob["firstIncoming"].as_f64(), seen_bob["incomingDone"].as_f64()) {
            (Some(first), Some(done)) => done - first,
            _ => f64::NAN,
        };
        let mb = size as f64 / 1e6;
        eprintln!(
            "throughput: {size} bytes; receiver page offer→verified {in_page_ms:.0} ms = {:.1} MB/s; \
             test pick→receiver done {} ms = {:.1} MB/s",
            mb / (in_page_ms / 1000.0),
            finished_at.as_millis(),
            mb / finished_at.as_secs_f64()
        );

        let bob_row = row_info(&bob, "incoming", &id).await;
        assert_eq!(bob_row["sha256"], json!(expected), "bob's verified hash: {bob_row}");
        assert_eq!(bob_row["name"], json!("random-20MiB.bin"));
        assert_eq!(bob_row["download"], json!("random-20MiB.bin"));
        assert!(
            bob_row["href"].as_str().is_some_and(|h| h.starts_with("blob:")),
            "the download link should be a blob: URL: {bob_row}"
        );
        let alice_row = row_info(&alice, "outgoing", &id).await;
        assert_eq!(alice_row["sha256"], json!(expected), "alice's computed hash: {alice_row}");
        assert!(
            alice_row["text"].as_str().is_some_and(|t| t.contains("Sent")),
            "the sender's row should say Sent: {alice_row}"
        );
        assert_eq!(
            download_sha256(&bob, "incoming", &id, size as u64).await,
            expected,
            "the SHA-256 of the file downloaded from the link"
        );
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");
    })
    .await;
}

/// Clicks the Cancel button of a row the moment it is receiving (or sending), checked and
/// clicked within one script so the test never races the transfer's end; gives whether it
/// clicked.
async fn cancel_while_running(person: &Person, direction: &str, id: &str) -> bool {
    let selector = row_selector(direction, id);
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let clicked = person
            .execute(
                "const row = document.querySelector(arguments[0]);\n\
                 if (!row) return 'missing';\n\
                 const bar = row.querySelector('.file-progress');\n\
                 const value = Number(bar.getAttribute('value'));\n\
                 if (!['sending', 'receiving'].includes(row.dataset.state) || value <= 0)\n\
                   return row.dataset.state;\n\
                 row.querySelector('.file-cancel').click();\n\
                 return 'clicked';",
                vec![json!(selector)],
            )
            .await;
        match clicked.as_str() {
            Some("clicked") => return true,
            Some("done" | "failed" | "cancelled") => return false,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "{}'s {direction} transfer {id} never started: {clicked}",
            person.name()
        );
        tokio::time::sleep(FAST_POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_side_can_cancel_a_transfer_and_the_call_goes_on() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("cancel")).await;
        let dir = temp_dir();
        let (big, _) = write_random_file(dir.path(), "big-50MiB.bin", 50 * MIB, 7);
        let (small, small_sha) = write_random_file(dir.path(), "small.bin", 100 * 1024, 8);

        // The receiver cancels.
        pick_file(&alice, &big).await;
        let id = wait_for_new_row(&alice, "outgoing", 0).await;
        assert!(
            cancel_while_running(&bob, "incoming", &id).await,
            "the 50 MiB transfer ended before bob could cancel it"
        );
        tokio::join!(
            wait_for_row_state(&bob, "incoming", &id, "cancelled"),
            wait_for_row_state(&alice, "outgoing", &id, "cancelled"),
        );
        let alice_row = row_info(&alice, "outgoing", &id).await;
        assert!(
            alice_row["text"]
                .as_str()
                .is_some_and(|t| t.contains("other person cancelled")),
            "alice should be told that bob cancelled: {alice_row}"
        );

        // The sender cancels.
        pick_file(&alice, &big).await;
        let id = wait_for_new_row(&alice, "outgoing", 1).await;
        assert!(
            cancel_while_running(&alice, "outgoing", &id).await,
            "the 50 MiB transfer ended before alice could cancel it"
        );
        tokio::join!(
            wait_for_row_state(&alice, "outgoing", &id, "cancelled"),
            wait_for_row_state(&bob, "incoming", &id, "cancelled"),
        );
        let bob_row = row_info(&bob, "incoming", &id).await;
        assert!(
            bob_row["href"].is_null(),
            "a cancelled file must not be offered for download: {bob_row}"
        );

        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");

        // A later file still goes through, in the other direction too.
        let id = transfer(&alice, &bob, &small).await;
        assert_eq!(
            row_info(&bob, "incoming", &id).await["sha256"],
            json!(small_sha)
        );
        let id = transfer(&bob, &alice, &small).await;
        assert_eq!(
            row_info(&alice, "incoming", &id).await["sha256"],
            json!(small_sha)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_name_with_markup_is_shown_as_inert_text() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("xssfile")).await;

        let name = r#"<img src=x onerror="document.body.dataset.pwned=1">.txt"#;
        let dir = temp_dir();
        let (path, sha) = write_random_file(dir.path(), name, 1000, 3);
        let id = transfer(&alice, &bob, &path).await;

        let row = row_info(&bob, "incoming", &id).await;
        assert_eq!(
            row["name"],
            json!(name),
            "bob's .file-name should be the exact text"
        );
        assert_eq!(row["sha256"], json!(sha));
        for person in [&alice, &bob] {
            let images = person
                .execute(
                    "return document.querySelectorAll('#fileTransfers img').length;",
                    vec![],
                )
                .await;
            assert_eq!(
                images,
                json!(0),
                "{}'s list holds an <img> made from a name",
                person.name()
            );
            assert_eq!(
                pwned(person).await,
                Value::Null,
                "{}'s page ran a name",
                person.name()
            );
        }
        assert_eq!(
            row_info(&alice, "outgoing", &id).await["name"],
            json!(name),
            "alice's .file-name"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_name_with_markup_is_shown_as_inert_text() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let payload = r#"<img src=x onerror="document.body.dataset.pwned=1">"#;
        let encoded: String = url::form_urlencoded::byte_serialize(payload.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        alice.open(&room_path(&encoded)).await;
        // Any alert would otherwise block the session; record it instead.
        alice
            .execute(
                "window.alert = () => { document.body.dataset.pwned = 'alert'; };",
                vec![],
            )
            .await;

        let typed = "<script>alert(1)</script>";
        alice.type_into("roomName", typed).await;
        alice.click("callButton").await;
        alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;

        let expected = visavis_shared::RoomName::from_user_input(typed)
            .expect("the typed name normalises to a room name")
            .to_string();
        let page = alice
            .execute(
                "return { field: document.getElementById('roomName').value,\n\
                          link: document.getElementById('roomLink')?.textContent ?? null,\n\
                          injected: document.body.querySelectorAll('img, script').length };",
                vec![],
            )
            .await;
        assert_eq!(
            page["field"],
            json!(expected),
            "the room field shows the normalised name"
        );
        assert!(
            page["link"]
                .as_str()
                .is_some_and(|l| l.ends_with(&format!("/r/{expected}"))),
            "the room link is the normalised name as text: {page}"
        );
        assert_eq!(
            page["injected"],
            json!(0),
            "no <img>/<script> in the page body: {page}"
        );
        assert_eq!(pwned(&alice).await, Value::Null, "the page ran a room name");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_operators_limit_is_refused_before_sending() {
    run_browser_test_with(
        || async { Ok((AppOptions::new().flag("--max-file-mb", "1"), ())) },
        |ctx, ()| async move {
            let alice = ctx.person("alice").await;
            let bob = ctx.person("bob").await;
            connect_pair(&alice, &bob, &unique_room("limit")).await;
            let dir = temp_dir();
            let (big, _) = write_random_file(dir.path(), "two-MiB.bin", 2 * MIB, 11);
            let (small, small_sha) = write_random_file(dir.path(), "small.bin", 10 * 1024, 12);

            pick_file(&alice, &big).await;
            let id = wait_for_new_row(&alice, "outgoing", 0).await;
            wait_for_row_state(&alice, "outgoing", &id, "failed").await;
            let row = row_info(&alice, "outgoing", &id).await;
            let text = row["text"].as_str().unwrap_or_default().to_owned();
            assert!(
                text.contains("too large") && text.contains("1.0 MB"),
                "alice's row should say the file is over the 1 MB limit: {row}"
            );
            let status = alice.status_text().await;
            assert!(
                status.contains("too large"),
                "alice's status line: {status:?}"
            );

            // The channel is ordered: had the big file been offered, bob would list it before
            // the small one that follows.
            let id = transfer(&alice, &bob, &small).await;
            assert_eq!(
                row_info(&bob, "incoming", &id).await["sha256"],
                json!(small_sha)
            );
            assert_eq!(
                row_count(&bob, "incoming").await,
                1,
                "bob should list only the small file"
            );
            assert_eq!(alice.call_state().await, "connected");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_on_the_page_is_highlighted_and_sent() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("drop")).await;
        tokio::join!(alice.wait_for_enabled("fileInput"), bob.wait_for_enabled("fileInput"));

        // WebDriver cannot drag a file from outside the browser, so the page gets the same
        // events a drag from the desktop produces, carrying a real File.
        let accepted = alice
            .execute(
                "const data = new DataTransfer();\n\
                 data.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));\n\
                 window.__e2eDrop = data;\n\
                 const target = document.getElementById('remoteVideo');\n\
                 target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true, cancelable: true }));\n\
                 const over = new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true });\n\
                 target.dispatchEvent(over);\n\
                 return over.defaultPrevented;",
                vec![],
            )
            .await;
        assert_eq!(accepted, json!(true), "a file dragged over the call should be accepted");
        alice
            .wait_until(
                "document.querySelector('.app.drop-active') !== null",
                STEP_TIMEOUT,
                "the drop highlight",
            )
            .await;
        let kept = alice
            .execute(
                "const drop = new DragEvent('drop', { dataTransfer: window.__e2eDrop, bubbles: true, cancelable: true });\n\
                 document.getElementById('remoteVideo').dispatchEvent(drop);\n\
                 return drop.defaultPrevented;",
                vec![],
            )
            .await;
        assert_eq!(
            kept,
            json!(true),
            "the page should take the drop, not let the browser open the file in its place"
        );
        alice
            .wait_until(
                "document.querySelector('.app.drop-active') === null",
                STEP_TIMEOUT,
                "the drop highlight to go away",
            )
            .await;

        let id = wait_for_new_row(&alice, "outgoing", 0).await;
        wait_for_row_state(&bob, "incoming", &id, "done").await;
        let row = row_info(&bob, "incoming", &id).await;
        assert_eq!(row["name"], json!("dropped.txt"));
        assert_eq!(row["sha256"], json!(hex(&Sha256::digest(b"dropped bytes"))));
    })
    .await;
}
