//! The connectivity check page at `/check`: one row per thing a call needs (local network,
//! STUN, TURN, each way into the relay: UDP, TCP and TLS, camera, microphone), each with what it means and its result, a camera preview,
//! a microphone level, and what to do about each failure. It publishes
//! `<body data-check-state="running|done">`. The tests themselves run in `check.rs`.

use leptos::logging::warn;
use leptos::prelude::*;

use super::video_tile::VideoTile;
use crate::browser;
use crate::check::Checker;
use crate::model::CheckModel;
use visavis_client_core::connectivity::{CheckResult, Row};
use visavis_client_core::link::{self, IcePolicy};

/// The check page. The check starts as soon as the page shows and stops when it goes away.
#[component]
pub fn CheckPage() -> impl IntoView {
    let search = browser::search();
    let model = CheckModel::new(link::ice_policy(&search));
    let checker = StoredValue::new_local(Some(Checker::start(model)));
    on_cleanup(move || {
        // Dropping the checker closes the socket and peer connection and stops every track.
        let _ = checker.try_update_value(|slot| *slot = None);
    });
    let run_again = move |_| {
        checker.update_value(|slot| {
            // The old run must let go of the camera before the new one asks for it.
            *slot = None;
            *slot = Some(Checker::start(model));
        });
    };

    Effect::new(move |_| {
        let state = if model.all_final() { "done" } else { "running" };
        let Some(body) = document().body() else {
            return;
        };
        if let Err(err) = body.dataset().set("checkState", state) {
            warn!("could not publish the check state: {err:?}");
        }
    });

    let failed = move |row: RwSignal<Row>| row.with(|r| r.result == CheckResult::Fail);
    let level_percent = move || model.mic_level.get().map(|level| (level * 100.0).round());
    // The way back keeps `?ice=relay`, so a relay test continues on the call page.
    let back = link::with_query("/", &search);

    view! {
        <div class="app check-page">
            <header class="app-header">
                <h1 class="brand">"visavis"</h1>
                <p class="tagline">"Connection check"</p>
            </header>
            <main class="check-main">
                <section class="check-intro" aria-labelledby="checkTitle">
                    <h2 id="checkTitle">"Can calls work from here?"</h2>
                    <p>
                        "This page tests, from this browser and this network, everything a call \
                         needs: reaching the other person directly or through the relay server, \
                         and your camera and microphone. Nothing is sent to anyone."
                    </p>
                    {(model.policy == IcePolicy::Relay)
                        .then(|| {
                            view! {
                                <p class="mode-note">
                                    "Relay-only mode (?ice=relay): only the relay (TURN) server \
                                     is tested on the network side."
                                </p>
                            }
                        })}
                    <p class="check-actions">
                        <a id="backLink" class="button button-secondary" href=back>
                            "Back to calls"
                        </a>
                        <button
                            id="rerunCheck"
                            class="button button-primary"
                            type="button"
                            on:click=run_again
                        >
                            "Run the check again"
                        </button>
                    </p>
                </section>

                <section class="check-group" aria-labelledby="networkTitle">
                    <h2 id="networkTitle">"Network"</h2>
                    <ul class="check-list">
                        <CheckRow
                            id="checkHost"
                            title="Local network (host)"
                            about="Your browser's own network addresses. Enough when both people \
                                   are on the same network."
                            row=model.host
                        />
                        <CheckRow
                            id="checkSrflx"
                            title="Public address via STUN (srflx)"
                            about="Your address as the internet sees it, found through a STUN \
                                   server. Lets two people on different networks connect \
                                   directly."
                            row=model.srflx
                        />
                        <CheckRow
                            id="checkRelay"
                            title="Relay via TURN (relay)"
                            about="A relay server that carries the call when no direct path \
                                   exists (strict firewalls, some mobile networks)."
                            row=model.relay
                        />
                    </ul>
                </section>

                <section class="check-group" aria-labelledby="transportsTitle">
                    <h2 id="transportsTitle">"Ways to the relay"</h2>
                    <p class="check-about">
                        "Each way into the relay (TURN) server, tried on its own. Networks that \
                         block UDP (many offices, universities and hotels) can still reach it \
                         over TCP or TLS."
                    </p>
                    <ul class="check-list">
                        <CheckRow
                            id="checkTurnUdp"
                            title="Relay over UDP"
                            about="The fastest way, and the one calls use when it works."
                            row=model.turn_udp
                        />
                        <CheckRow
                            id="checkTurnTcp"
                            title="Relay over TCP"
                            about="For networks that block UDP but let TCP out to the relay's port."
                            row=model.turn_tcp
                        />
                        <Show when=move || model.turn_tls_offered.get()>
                            <CheckRow
                                id="checkTurnTls"
                                title="Relay over TLS"
                                about="Encrypted TCP, which looks like HTTPS to a firewall: for \
                                       networks that let little else out."
                                row=model.turn_tls
                            />
                        </Show>
                    </ul>
                    <p
                        id="checkTurnSummary"
                        class="check-text"
                        aria-live="polite"
                        data-ready=move || model.turn_summary.with(|s| s.is_some().to_string())
                    >
                        {move || {
                            model
                                .turn_summary
                                .get()
                                .unwrap_or_else(|| "Trying each way into the relay…".to_owned())
                        }}
                    </p>
                </section>

                <section class="check-group" aria-labelledby="devicesTitle">
                    <h2 id="devicesTitle">"Camera and microphone"</h2>
                    <ul class="check-list">
                        <CheckRow
                            id="checkCamera"
                            title="Camera"
                            about="Opened on its own, so a problem with it is told apart from the \
                                   microphone."
                            row=model.camera
                        >
                            <Show when=move || model.camera_stream.with(Option::is_some)>
                                <div class="check-preview">
                                    <VideoTile
                                        id="checkCameraPreview"
                                        label="Camera preview"
                                        empty_text="No picture"
                                        stream=model.camera_stream
                                        muted=true
                                        mirrored=true
                                    />
                                </div>
                            </Show>
                        </CheckRow>
                        <CheckRow
                            id="checkMicrophone"
                            title="Microphone"
                            about="Opened on its own. Speak: the bar should move."
                            row=model.microphone
                        >
                            {move || {
                                level_percent()
                                    .map(|percent| {
                                        view! {
                                            <div
                                                id="checkMicLevel"
                                                class="level"
                                                role="meter"
                                                aria-label="Microphone level"
                                                aria-valuemin="0"
                                                aria-valuemax="100"
                                                aria-valuenow=percent
                                            >
                                                <div
                                                    class="level-bar"
                                                    style:width=format!("{percent}%")
                                                ></div>
                                            </div>
                                        }
                                    })
                            }}
                        </CheckRow>
                    </ul>
                    <Show when=move || model.devices_released.get()>
                        <p class="check-note">
                            "The camera and microphone were released after the test. Run the check \
                             again to see them once more."
                        </p>
                    </Show>
                </section>

                <section class="check-help" aria-labelledby="helpTitle">
                    <h2 id="helpTitle">"What to do"</h2>
                    <p class="check-note">"Tips that match a problem found above are highlighted."</p>
                    <ul class="tips">
                        <li class="tip" class:tip-relevant=move || failed(model.camera) || failed(model.microphone)>
                            <h3>"The camera or microphone was refused"</h3>
                            <p>
                                "Allow the camera and microphone for this site: click the camera \
                                 or lock icon in the address bar, or open the browser's site \
                                 settings. Also check that your system's privacy settings let the \
                                 browser use them. Then run the check again."
                            </p>
                        </li>
                        <li class="tip" class:tip-relevant=move || failed(model.camera) || failed(model.microphone)>
                            <h3>"The camera or microphone is busy or missing"</h3>
                            <p>
                                "Close other apps and browser tabs that may be using it (other \
                                 video calls, camera apps). Check that it is plugged in and \
                                 switched on; some laptops have a camera switch or shutter."
                            </p>
                        </li>
                        <li class="tip" class:tip-relevant=move || failed(model.host)>
                            <h3>"No local network address"</h3>
                            <p>
                                "A privacy extension, an ad blocker or a browser setting may be \
                                 blocking WebRTC. Allow it for this site or try another browser."
                            </p>
                        </li>
                        <li class="tip" class:tip-relevant=move || failed(model.srflx)>
                            <h3>"No public address (STUN)"</h3>
                            <p>
                                "Your network may block UDP traffic, as some company, school, \
                                 hotel and public networks do. Try another network (for example \
                                 your phone's hotspot). Calls can still work through a relay."
                            </p>
                        </li>
                        <li class="tip" class:tip-relevant=move || failed(model.relay)>
                            <h3>"No relay (TURN)"</h3>
                            <p>
                                "Ask whoever runs this visavis server to set up a TURN server (or \
                                 the built-in relay) and to check that its secret matches the one \
                                 visavis uses. Without a relay, calls between strict networks \
                                 fail. If the relay refused the credentials, the secret is the \
                                 likely cause; if it did not answer, a firewall may block it."
                            </p>
                        </li>
                        <li
                            class="tip"
                            class:tip-relevant=move || {
                                failed(model.turn_udp) || failed(model.turn_tcp)
                                    || failed(model.turn_tls)
                            }
                        >
                            <h3>"The relay works only some ways"</h3>
                            <p>
                                "If UDP fails but TCP or TLS works, calls still go through, a \
                                 little slower. If TCP or TLS fails everywhere, ask whoever runs \
                                 this visavis server to open the relay's TCP port (and its TLS \
                                 port, often 443) in the server's firewall."
                            </p>
                        </li>
                        <li class="tip">
                            <h3>"Everything works here, but calls still fail"</h3>
                            <p>
                                "Ask the other person to open this page too: both sides need a \
                                 working path, and their network may be the one that blocks it."
                            </p>
                        </li>
                    </ul>
                </section>
            </main>
        </div>
    }
}

/// One row of the check: a heading, what it tests, and its result (`data-result`), with
/// optional extra content (a preview, a level bar).
#[component]
fn CheckRow(
    /// The element id (a contract with automated tests).
    id: &'static str,
    /// The heading.
    title: &'static str,
    /// What the row tests, in plain words.
    about: &'static str,
    /// The row's current result.
    row: RwSignal<Row>,
    /// Extra content under the result.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let result = move || row.with(|r| r.result);
    view! {
        <li
            id=id
            class=move || format!("check-row result-{}", result().as_str())
            data-result=move || result().as_str()
        >
            <div class="check-row-head">
                <h3 class="check-row-title">{title}</h3>
                <span class="badge">{move || result().label()}</span>
            </div>
            <p class="check-about">{about}</p>
            <p class="check-text" aria-live="polite">{move || row.with(|r| r.text.clone())}</p>
            {children.map(|children| children())}
        </li>
    }
}
