//! Keeping the screen on during a call: a screen wake lock from the moment the call connects,
//! asked for again whenever the page shows (browsers let go of it while the page is hidden),
//! and let go of on hang-up. Its state goes to the view model for `<body data-wake-lock>`. A
//! browser without the API, or one that refuses (headless Chromium may), changes nothing else.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::browser::wake_lock::{self, WakeLockError, WakeSentinel};
use crate::browser::{self, PageListener};
use visavis_client_core::wake::WakeLock;

use super::Inner;

/// The wake lock's side of the controller's state (one field of `Inner`).
#[derive(Default)]
pub(super) struct WakeState {
    /// The lock, while held.
    sentinel: Option<WakeSentinel>,
    /// The `visibilitychange` listener of the current call.
    on_visibility: Option<PageListener>,
    /// A call is live: the lock is wanted.
    live: bool,
    /// Bumped on each release, so a request answered after the call ended is let go at once.
    generation: u64,
}

impl Inner {
    /// The call connected: keep the screen on, now and each time the page shows again.
    pub(super) fn keep_screen_on(self: &Rc<Self>) {
        let listening = {
            let mut wake = self.wake.borrow_mut();
            wake.live = true;
            wake.on_visibility.is_some()
        };
        if !listening {
            let weak = Rc::downgrade(self);
            let listener = PageListener::on_document("visibilitychange", move |_| {
                let weak = weak.clone();
                spawn_local(async move {
                    if let Some(inner) = weak.upgrade() {
                        inner.request_wake_lock();
                    }
                });
            });
            self.wake.borrow_mut().on_visibility = listener;
        }
        self.request_wake_lock();
    }

    /// Asks for the lock if the call wants it and it is not held (the browser may have let go
    /// of it while the page was hidden).
    fn request_wake_lock(self: &Rc<Self>) {
        let vm = self.vm;
        let (live, generation, lapsed) = {
            let mut wake = self.wake.borrow_mut();
            let lapsed = wake.sentinel.as_ref().is_some_and(WakeSentinel::released);
            if lapsed {
                wake.sentinel = None;
            }
            (wake.live, wake.generation, lapsed)
        };
        if lapsed {
            vm.wake_lock.set(WakeLock::Released);
        }
        if !vm
            .wake_lock
            .get_untracked()
            .should_request(live, browser::page_visible())
        {
            return;
        }
        vm.wake_lock.set(WakeLock::Requested);
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let result = wake_lock::request_screen().await;
            let current = weak.upgrade().filter(|inner| {
                let wake = inner.wake.borrow();
                wake.live && wake.generation == generation
            });
            let Some(inner) = current else {
                // The call ended meanwhile.
                if let Ok(sentinel) = result {
                    sentinel.release();
                }
                return;
            };
            let state = match result {
                Ok(sentinel) => {
                    inner.wake.borrow_mut().sentinel = Some(sentinel);
                    WakeLock::Held
                }
                Err(WakeLockError::Unsupported) => WakeLock::Unsupported,
                Err(WakeLockError::Refused(reason)) => {
                    warn!("wake lock: refused: {reason}");
                    WakeLock::Refused
                }
            };
            inner.vm.wake_lock.set(state);
        });
    }

    /// The call ended: let go of the lock and stop listening for the page showing.
    pub(super) fn release_wake_lock(&self) {
        let (was_live, sentinel, listener) = {
            let mut wake = self.wake.borrow_mut();
            wake.generation += 1;
            let was_live = std::mem::take(&mut wake.live);
            (was_live, wake.sentinel.take(), wake.on_visibility.take())
        };
        drop(listener);
        if let Some(sentinel) = sentinel {
            sentinel.release();
        }
        if was_live {
            self.vm.wake_lock.set(WakeLock::Released);
        }
    }
}
