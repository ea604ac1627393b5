//! The page: picks the call page or the connectivity check page from the address, creates the
//! call page's view model and controller, lays out its parts, and publishes the call state on
//! `<body data-call-state>`.

use leptos::logging::warn;
use leptos::prelude::*;

use super::chat_panel::ChatPanel;
use super::check_page::CheckPage;
use super::room_form::RoomForm;
use super::status_line::StatusLine;
use super::video_tile::VideoTile;
use crate::browser;
use crate::controller::{initial_room_input, Controller};
use crate::link::{self, IcePolicy};
use crate::model::ViewModel;

/// The whole application: the check page at `/check`, the call page everywhere else.
#[component]
pub fn App() -> impl IntoView {
    if link::is_check_path(&browser::path()) {
        view! { <CheckPage /> }.into_any()
    } else {
        view! { <CallPage /> }.into_any()
    }
}

/// The call page.
#[component]
fn CallPage() -> impl IntoView {
    let vm = ViewModel::new(initial_room_input());
    let controller = Controller::new(vm);
    let relay_only = controller.ice_policy() == IcePolicy::Relay;
    let controller = StoredValue::new_local(controller);

    // Automated tests and CSS read the state from the body, so it must always match the page.
    Effect::new(move |_| {
        let state = vm.call_state.get();
        let Some(body) = document().body() else {
            return;
        };
        if let Err(err) = body.dataset().set("callState", state.as_str()) {
            warn!("could not publish the call state: {err:?}");
        }
    });

    view! {
        <div class="app">
            <header class="app-header">
                <h1 class="brand">"visavis"</h1>
                <p class="tagline">"Private video calls for two"</p>
            </header>
            <main class="app-main">
                <section class="controls" aria-label="Call">
                    <RoomForm vm=vm controller=controller />
                    <StatusLine vm=vm controller=controller />
                    {relay_only
                        .then(|| {
                            view! {
                                <p id="iceMode" class="mode-note">
                                    "Relay-only mode: this page sends and receives everything \
                                     through the relay (TURN) server."
                                </p>
                            }
                        })}
                </section>
                <section class="stage" aria-label="Videos">
                    <VideoTile
                        id="localVideo"
                        label="You"
                        empty_text="Your camera is off"
                        stream=vm.local_stream
                        muted=true
                        mirrored=vm.local_mirrored
                    />
                    <VideoTile
                        id="remoteVideo"
                        label="Them"
                        empty_text="No one here yet"
                        stream=vm.remote_stream
                        muted=false
                        mirrored=false
                    />
                </section>
                <ChatPanel vm=vm controller=controller />
            </main>
            <footer class="app-footer">
                <a href="/check">"Calls not working? Check your connection, camera and microphone."</a>
            </footer>
        </div>
    }
}
