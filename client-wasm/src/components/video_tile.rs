//! One video with its caption. The stream is attached with `srcObject` from an effect, the only
//! place a `MediaStream` meets the DOM; so is the chosen speaker (`setSinkId`), where the
//! browser has it.

use leptos::html;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{HtmlVideoElement, MediaStream};

use crate::browser::js_error;

/// A captioned video showing `stream`, or a placeholder while there is none.
#[component]
pub fn VideoTile(
    /// The element id (a contract with the automated tests).
    id: &'static str,
    /// The caption.
    label: &'static str,
    /// What the placeholder says while there is no stream.
    empty_text: &'static str,
    /// The stream to show.
    stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the element is muted (the local video must be, or we would hear ourselves).
    muted: bool,
    /// Whether to mirror the picture (a camera, not a shared screen).
    #[prop(into)]
    mirrored: Signal<bool>,
    /// The id of the tile itself (the container of the video and its badges), if it needs one.
    #[prop(optional)]
    tile_id: Option<&'static str>,
    /// The speaker to play the sound on (`None` inside: the system's default), for a video
    /// that is heard.
    #[prop(optional, into)]
    sink_id: Option<Signal<Option<String>>>,
    /// Badges shown over the video.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let video = NodeRef::<html::Video>::new();
    Effect::new(move |_| {
        let current = stream.get();
        if let Some(element) = video.get() {
            show(&element, current.as_ref());
        }
    });
    if let Some(sink_id) = sink_id {
        Effect::new(move |_| {
            let id = sink_id.get();
            if let Some(element) = video.get() {
                play_to(&element, id.as_deref().unwrap_or_default());
            }
        });
    }
    let empty = move || stream.with(Option::is_none);

    view! {
        <figure id=tile_id class="tile" class:tile-empty=empty>
            <video
                id=id
                node_ref=video
                class="video"
                class:mirrored=move || mirrored.get()
                autoplay=true
                playsinline=true
                muted=muted
                prop:muted=muted
            ></video>
            <Show when=empty>
                <div class="tile-placeholder" aria-hidden="true">{empty_text}</div>
            </Show>
            <figcaption class="tile-caption">{label}</figcaption>
            {children.map(|children| children())}
        </figure>
    }
}

/// Points the element at `stream` (or at nothing) and starts playback.
fn show(element: &HtmlVideoElement, stream: Option<&MediaStream>) {
    // Re-assigning the same stream would restart loading and flash the picture.
    if element.src_object().as_ref() == stream {
        return;
    }
    element.set_src_object(stream);
    if stream.is_none() {
        return;
    }
    // `autoplay` usually suffices; play() covers browsers that wait for it. A refusal (for
    // example an autoplay policy) is not fatal: the element keeps its stream.
    match element.play() {
        Ok(promise) => spawn_local(async move {
            if let Err(err) = JsFuture::from(promise).await {
                warn!("video: play() was refused: {}", js_error::describe(&err));
            }
        }),
        Err(err) => warn!("video: play() failed: {}", js_error::describe(&err)),
    }
}

/// Sends the element's sound to the speaker `id` (empty: the system's default) with
/// `setSinkId`, called by name: browsers without it keep the default speaker, and the picker is
/// hidden there.
fn play_to(element: &HtmlVideoElement, id: &str) {
    let method = js_sys::Reflect::get(element, &"setSinkId".into())
        .ok()
        .and_then(|method| method.dyn_into::<js_sys::Function>().ok());
    let Some(method) = method else {
        return;
    };
    let current = js_sys::Reflect::get(element, &"sinkId".into())
        .ok()
        .and_then(|sink| sink.as_string());
    if current.as_deref() == Some(id) {
        return;
    }
    let promise = method
        .call1(element, &id.into())
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Promise>().ok());
    if let Some(promise) = promise {
        spawn_local(async move {
            if let Err(err) = JsFuture::from(promise).await {
                warn!(
                    "video: the chosen speaker could not be used: {}",
                    js_error::describe(&err)
                );
            }
        });
    }
}
