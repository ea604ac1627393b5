//! The call statistics overlay, opened and closed with the top bar's button: codecs, picture
//! sizes, frame rates and bitrates of what is sent and received, round-trip time, packet loss,
//! jitter, the candidate types of the media path, how our relay is reached (UDP, TCP or TLS)
//! when it is, and the set-up time, with small plots of the
//! bitrates and the round-trip time over the last minute. It renders `vm.call_stats`; the numbers come from
//! `live_stats.rs` and their wording and plot shapes from `stats_view.rs`.
//!
//! Element ids, data attributes and `data-samples` on the plots are read by the browser tests.

use leptos::prelude::*;

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use crate::model::ViewModel;
use visavis_client_core::screen::Panel;
use visavis_client_core::stats::view::{self as stats_view, NO_VALUE};
use visavis_client_core::stats::{Direction, LiveStats, Sample, Snapshot, HISTORY_LEN};
use visavis_shared::RelayTransport;

/// The plots' drawing box (the SVG stretches it to the width available).
const PLOT_WIDTH: f64 = 120.0;
const PLOT_HEIGHT: f64 = 40.0;

/// The lowest top of the bitrate scale (bits per second) and of the round-trip scale (ms), so
/// a quiet call is not drawn as a busy one.
const BITRATE_FLOOR_BPS: f64 = 100_000.0;
const RTT_FLOOR_MS: f64 = 10.0;

/// The panel, an overlay over the call opened by the top bar's statistics button.
#[component]
pub fn StatsPanel(vm: ViewModel, view: CallView) -> impl IntoView {
    let has_stats = move || vm.call_stats.with(Option::is_some);

    // One reader per kind of value, so each field stays a small closure.
    let snapshot = move |read: fn(&Snapshot) -> String| snapshot_with(vm, read);
    let value = move |read: fn(&Snapshot) -> Option<f64>| {
        vm.call_stats.with(|live| {
            live.as_ref()
                .and_then(LiveStats::latest)
                .and_then(read)
                .map(|value| format!("{value:.3}"))
        })
    };
    let direction = move |send: bool, read: fn(&Direction) -> String| {
        snapshot_with(vm, |s| read(if send { &s.send } else { &s.receive }))
    };
    let candidate = move |local: bool| {
        vm.call_stats.with(|live| {
            live.as_ref().and_then(LiveStats::latest).and_then(|s| {
                if local {
                    s.local_candidate.clone()
                } else {
                    s.remote_candidate.clone()
                }
            })
        })
    };
    // Only when our end of the path is a relay candidate.
    let relay_transport = move || {
        vm.call_stats.with(|live| {
            live.as_ref()
                .and_then(LiveStats::latest)
                .and_then(|s| s.relay_transport)
        })
    };
    let setup_ms = move || {
        vm.call_stats
            .with(|live| live.as_ref().and_then(LiveStats::setup_ms))
    };

    view! {
        <section
            id="statsPanel"
            class="stats overlay-card"
            aria-labelledby="statsTitle"
            hidden=move || !view.is_open(Panel::Stats)
        >
            <div class="panel-head">
                <h2 id="statsTitle" class="panel-title">"Call statistics"</h2>
                <button
                    class="icon-button panel-close"
                    type="button"
                    aria-label="Close the statistics"
                    on:click=move |_| view.close(Panel::Stats)
                >
                    <Icon kind=IconKind::Close />
                </button>
            </div>
            <div class="stats-body">
                <p class="stats-note" hidden=has_stats>
                    "The statistics appear once a call is connected, and are updated every second."
                </p>
                <table class="stats-table">
                    <thead>
                        <tr>
                            <td></td>
                            <th scope="col">"Sent"</th>
                            <th scope="col">"Received"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <tr
                            id="statCodec"
                            data-send=move || direction(true, stats_view::codecs)
                            data-receive=move || direction(false, stats_view::codecs)
                        >
                            <th scope="row">"Codec"</th>
                            <td>{move || direction(true, stats_view::codecs)}</td>
                            <td>{move || direction(false, stats_view::codecs)}</td>
                        </tr>
                        <tr
                            id="statResolution"
                            data-send=move || direction(true, |d| stats_view::resolution(d.resolution))
                            data-receive=move || {
                                direction(false, |d| stats_view::resolution(d.resolution))
                            }
                        >
                            <th scope="row">"Resolution"</th>
                            <td>{move || direction(true, |d| stats_view::resolution(d.resolution))}</td>
                            <td>
                                {move || direction(false, |d| stats_view::resolution(d.resolution))}
                            </td>
                        </tr>
                        <tr
                            id="statFramerate"
                            data-send=move || direction(true, |d| stats_view::frame_rate(d.frame_rate))
                            data-receive=move || {
                                direction(false, |d| stats_view::frame_rate(d.frame_rate))
                            }
                        >
                            <th scope="row">"Frame rate"</th>
                            <td>{move || direction(true, |d| stats_view::frame_rate(d.frame_rate))}</td>
                            <td>
                                {move || direction(false, |d| stats_view::frame_rate(d.frame_rate))}
                            </td>
                        </tr>
                        <tr>
                            <th scope="row">"Bitrate"</th>
                            <td
                                id="statSendBitrate"
                                data-value=move || value(|s| s.send.bitrate_bps)
                            >
                                {move || snapshot(|s| stats_view::bitrate(s.send.bitrate_bps))}
                            </td>
                            <td
                                id="statReceiveBitrate"
                                data-value=move || value(|s| s.receive.bitrate_bps)
                            >
                                {move || snapshot(|s| stats_view::bitrate(s.receive.bitrate_bps))}
                            </td>
                        </tr>
                    </tbody>
                </table>
                <dl class="stats-list">
                    <div class="stats-item">
                        <dt>"Round-trip time"</dt>
                        <dd id="statRtt" data-value=move || value(|s| s.rtt_ms)>
                            {move || snapshot(|s| stats_view::millis(s.rtt_ms))}
                        </dd>
                    </div>
                    <div class="stats-item">
                        <dt>"Packet loss"</dt>
                        <dd id="statLoss" data-value=move || value(|s| s.loss_percent)>
                            {move || snapshot(|s| stats_view::percent(s.loss_percent))}
                        </dd>
                    </div>
                    <div class="stats-item">
                        <dt>"Jitter"</dt>
                        <dd id="statJitter" data-value=move || value(|s| s.jitter_ms)>
                            {move || snapshot(|s| stats_view::millis(s.jitter_ms))}
                        </dd>
                    </div>
                    <div class="stats-item">
                        <dt>"Candidates (yours / theirs)"</dt>
                        <dd
                            id="statCandidates"
                            data-local=move || candidate(true)
                            data-remote=move || candidate(false)
                        >
                            {move || {
                                stats_view::candidates(
                                    candidate(true).as_deref(),
                                    candidate(false).as_deref(),
                                )
                            }}
                        </dd>
                    </div>
                    <div class="stats-item" hidden=move || relay_transport().is_none()>
                        <dt>"Relay reached over"</dt>
                        <dd
                            id="statRelayTransport"
                            data-value=move || relay_transport().map(RelayTransport::as_str)
                        >
                            {move || stats_view::relay_transport(relay_transport())}
                        </dd>
                    </div>
                    <div class="stats-item">
                        <dt>"Set-up time"</dt>
                        <dd id="statSetupTime" data-value=move || setup_ms().map(|ms| ms.to_string())>
                            {move || stats_view::setup_time(setup_ms())}
                        </dd>
                    </div>
                </dl>
                <BitratePlot vm=vm />
                <RttPlot vm=vm />
            </div>
        </section>
    }
}

/// The latest snapshot's text as `read` gives it, or the placeholder while there is none.
fn snapshot_with(vm: ViewModel, read: impl Fn(&Snapshot) -> String) -> String {
    vm.call_stats.with(|live| {
        live.as_ref()
            .and_then(LiveStats::latest)
            .map_or_else(|| NO_VALUE.to_owned(), read)
    })
}

/// What a plot draws: one set of polylines per series, the top of its scale, and how many
/// samples it holds.
#[derive(Clone, PartialEq)]
struct PlotData {
    series: Vec<Vec<String>>,
    max: f64,
    samples: usize,
}

/// Lays out `series` (values read from each sample) on one scale starting at `floor`.
fn plot_data(vm: ViewModel, floor: f64, series: &[fn(&Sample) -> Option<f64>]) -> PlotData {
    vm.call_stats.with(|live| {
        let Some(history) = live.as_ref().map(LiveStats::history) else {
            return PlotData {
                series: vec![Vec::new(); series.len()],
                max: floor,
                samples: 0,
            };
        };
        let values: Vec<Vec<Option<f64>>> =
            series.iter().map(|read| history.series(read)).collect();
        let max = stats_view::plot_max(&values.concat(), floor);
        PlotData {
            series: values
                .iter()
                .map(|values| {
                    stats_view::polylines(values, HISTORY_LEN, PLOT_WIDTH, PLOT_HEIGHT, max)
                })
                .collect(),
            max,
            samples: history.len(),
        }
    })
}

/// The polylines of one series, drawn with `class`.
fn lines(data: Memo<PlotData>, index: usize, class: &'static str) -> impl IntoView {
    move || {
        data.with(|data| data.series.get(index).cloned().unwrap_or_default())
            .into_iter()
            .map(|points| view! { <polyline class=class points=points /> })
            .collect_view()
    }
}

/// The box every plot is drawn in, with a faint middle line to read values against.
fn plot_box(
    id: &'static str,
    label: impl Fn() -> String + Send + Sync + 'static,
    samples: impl Fn() -> String + Send + Sync + 'static,
    children: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <svg
            id=id
            class="plot"
            viewBox=format!("0 0 {PLOT_WIDTH} {PLOT_HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=label
            data-samples=samples
        >
            <line
                class="plot-grid"
                x1="0"
                x2=PLOT_WIDTH.to_string()
                y1=(PLOT_HEIGHT / 2.0).to_string()
                y2=(PLOT_HEIGHT / 2.0).to_string()
            />
            {children}
        </svg>
    }
}

/// Sent and received bitrates over the last minute.
#[component]
fn BitratePlot(vm: ViewModel) -> impl IntoView {
    let data =
        Memo::new(move |_| plot_data(vm, BITRATE_FLOOR_BPS, &[|s| s.send_bps, |s| s.receive_bps]));
    let top = move || stats_view::bitrate(Some(data.with(|d| d.max)));
    view! {
        <figure class="stats-plot">
            {plot_box(
                "bitratePlot",
                move || format!("Sent and received bitrate over the last minute, up to {}", top()),
                move || data.with(|d| d.samples.to_string()),
                view! {
                    {lines(data, 0, "plot-line plot-send")}
                    {lines(data, 1, "plot-line plot-receive")}
                },
            )}
            <figcaption class="plot-caption">
                <span>"Bitrate, last minute (top: " {top} ")"</span>
                <span class="plot-key plot-key-send">"sent"</span>
                <span class="plot-key plot-key-receive">"received"</span>
            </figcaption>
        </figure>
    }
}

/// The round-trip time over the last minute.
#[component]
fn RttPlot(vm: ViewModel) -> impl IntoView {
    let data = Memo::new(move |_| plot_data(vm, RTT_FLOOR_MS, &[|s| s.rtt_ms]));
    let top = move || stats_view::millis(Some(data.with(|d| d.max)));
    view! {
        <figure class="stats-plot">
            {plot_box(
                "rttPlot",
                move || format!("Round-trip time over the last minute, up to {}", top()),
                move || data.with(|d| d.samples.to_string()),
                lines(data, 0, "plot-line plot-rtt"),
            )}
            <figcaption class="plot-caption">
                <span>"Round-trip time, last minute (top: " {top} ")"</span>
            </figcaption>
        </figure>
    }
}
