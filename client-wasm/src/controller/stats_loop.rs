//! The live statistics of the call: once it connects, reads `getStats()` every second while
//! the call lasts and publishes each reading, compared with the one before, to the view model
//! (`visavis_client_core::stats` does the arithmetic). Teardown clears them; the loop ends by itself once
//! the attempt it belongs to is over.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::browser;
use visavis_client_core::adapt;
use visavis_client_core::stats::{self, LiveStats, Stat};

use super::Inner;

/// How often the statistics are read: once a second, the resolution of the plots.
const STATS_INTERVAL_MS: i32 = 1000;

impl Inner {
    /// Starts reading the statistics of the call that has just connected, and publishes its
    /// set-up time: from the moment both people were in the room to now (the same span as the
    /// call report's `setup_ms`). The statistics stay in place while the call lasts, so a
    /// later `connected` (after the connection recovered) finds them there and starts no
    /// second loop.
    pub(super) fn start_stats_loop(self: &Rc<Self>) {
        if self.vm.call_stats.with_untracked(Option::is_some) {
            return;
        }
        let setup_ms = self
            .setup_started
            .get()
            .map(|start| stats::elapsed_ms(start, browser::monotonic_ms()));
        self.vm.call_stats.set(Some(LiveStats::new(setup_ms)));
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let mut previous: Option<Vec<Stat>> = None;
            // Only a change of error is logged, not the same one every second.
            let mut last_error: Option<String> = None;
            loop {
                // The first reading waits a second too: right after `connected` the browser
                // is busy with DTLS and the first frames, and `getStats()` then only delays
                // them (the set-up time is already published above).
                browser::sleep(STATS_INTERVAL_MS).await;
                // The peer connection is looked up each time: it may be replaced while the
                // call goes on (a recovered connection), and its statistics are the call's.
                let negotiator = match weak.upgrade() {
                    Some(inner) if inner.attempt.get() == attempt => inner.negotiator(),
                    _ => return,
                };
                if let Some(negotiator) = negotiator {
                    let reading = negotiator.stats().await;
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    if inner.attempt.get() != attempt {
                        return;
                    }
                    match reading {
                        Ok(current) => {
                            let snapshot = stats::snapshot(previous.as_deref(), &current);
                            // The network adaptation reads the same second (controller/network.rs).
                            inner.adapt_to(&adapt::link_sample(&snapshot, &current));
                            inner.check_camera_pause();
                            inner.vm.call_stats.update(|live| {
                                if let Some(live) = live {
                                    live.record(snapshot);
                                }
                            });
                            previous = Some(current);
                            last_error = None;
                        }
                        Err(err) => {
                            if last_error.as_ref() != Some(&err) {
                                warn!("call: live statistics: {err}");
                            }
                            last_error = Some(err);
                        }
                    }
                }
            }
        });
    }
}
