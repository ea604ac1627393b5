//! What the adaptation to the network shows: the signal-bar indicators of both sides (with
//! their explanation on hover and focus), the notice on the other person's tile saying why
//! their picture is small or gone, the Audio only button, and the prompt suggesting audio only
//! when the link is too weak for video.

use leptos::prelude::*;

use super::icons::{Icon, IconKind};
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::adapt::{self, MAX_BARS};

/// A signal-strength indicator: `bars` of [`MAX_BARS`] lit (none while unknown), published as
/// `data-level` (`0`–`4`, or `unknown`), explained by `text` as its tooltip and accessible name.
#[component]
pub fn QualityIndicator(
    /// The element id (a contract with the automated tests).
    id: &'static str,
    /// The bars, if known.
    #[prop(into)]
    bars: Signal<Option<u8>>,
    /// The explanation.
    #[prop(into)]
    text: Signal<String>,
) -> impl IntoView {
    let level = move || {
        bars.get()
            .map_or_else(|| "unknown".to_owned(), |b| b.to_string())
    };
    let poor = move || bars.get().is_some_and(adapt::is_poor);
    view! {
        <span
            id=id
            class="signal"
            class:signal-poor=poor
            role="img"
            tabindex="0"
            data-level=level
            title=move || text.get()
            aria-label=move || text.get()
        >
            {(1..=MAX_BARS)
                .map(|bar| {
                    view! {
                        <span
                            class="signal-bar"
                            class:signal-lit=move || bars.get().is_some_and(|b| b >= bar)
                            data-bar=bar
                        ></span>
                    }
                })
                .collect_view()}
        </span>
    }
}

/// Our own indicator, on our picture, with the level our video is sent at as
/// `data-send-level` (`0` full … `4` minimal).
#[component]
pub fn LocalQuality(vm: ViewModel) -> impl IntoView {
    let network = vm.network;
    let bars = Signal::derive(move || network.local_quality.with(|q| q.as_ref().map(|q| q.score)));
    let text = Signal::derive(move || {
        network.local_quality.with(|q| {
            q.as_ref().map_or_else(
                || "Your connection: not measured yet".to_owned(),
                |q| q.text.clone(),
            )
        })
    });
    view! {
        <span class="tile-signal" data-send-level=move || network.send_level.get().index()>
            <QualityIndicator id="localQuality" bars=bars text=text />
        </span>
    }
}

/// The other person's indicator, from the score they send.
#[component]
pub fn RemoteQuality(vm: ViewModel) -> impl IntoView {
    let network = vm.network;
    let bars = Signal::derive(move || network.remote_quality.get());
    let text = Signal::derive(move || match network.remote_quality.get() {
        Some(score) => adapt::remote_quality_text(score),
        None => "Their connection: not reported yet".to_owned(),
    });
    view! {
        <span class="tile-signal">
            <QualityIndicator id="remoteQuality" bars=bars text=text />
        </span>
    }
}

/// Why the other person's picture is small or gone, on their tile.
#[component]
pub fn RemoteNotice(vm: ViewModel) -> impl IntoView {
    let network = vm.network;
    let notice = move || {
        let (level, reason) = network.remote_level.get();
        adapt::remote_notice(
            level,
            reason,
            network.audio_only.get(),
            network.remote_camera_paused.get(),
        )
    };
    view! {
        <p
            id="remoteNotice"
            class="tile-notice"
            role="status"
            data-remote-level=move || network.remote_level.get().0.index()
            hidden=move || notice().is_none()
        >
            {move || notice().unwrap_or_default()}
        </p>
    }
}

/// The Audio only button of the control bar: available at any time in a call.
#[component]
pub fn AudioOnlyButton(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let on = move || vm.network.audio_only.get();
    view! {
        <button
            id="audioOnlyButton"
            class="round-button"
            type="button"
            aria-pressed=move || on().to_string()
            class:round-active=on
            disabled=move || !vm.call_state.get().in_room() || !vm.call_ready.get()
            on:click=move |_| controller.get_value().toggle_audio_only()
        >
            {move || {
                let kind = if on() { IconKind::Camera } else { IconKind::CameraOff };
                view! { <Icon kind=kind /> }
            }}
            <span class="round-label">{move || adapt::audio_only_label(on())}</span>
        </button>
    }
}

/// The suggestion to go audio only, while the link stays too weak at the lowest video level.
#[component]
pub fn AudioOnlyPrompt(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let network = vm.network;
    let dismissed = RwSignal::new(false);
    // A new suggestion after the link recovered is shown again.
    Effect::new(move |_| {
        if !network.suggest_audio_only.get() {
            dismissed.set(false);
        }
    });
    let shown =
        move || network.suggest_audio_only.get() && !network.audio_only.get() && !dismissed.get();
    view! {
        <div id="audioOnlyPrompt" class="audio-only-prompt" role="alert" hidden=move || !shown()>
            <p>{adapt::AUDIO_ONLY_PROMPT}</p>
            <button
                id="audioOnlyPromptButton"
                class="primary"
                type="button"
                on:click=move |_| controller.get_value().toggle_audio_only()
            >
                "Switch to audio only"
            </button>
            <button
                id="audioOnlyPromptDismiss"
                type="button"
                on:click=move |_| dismissed.set(true)
            >
                "Keep video"
            </button>
        </div>
    }
}
