//! Telling the server the page is going away: on `pagehide` (the tab closes, navigates away or
//! reloads), and on `beforeunload` for Firefox, a seated page sends `leaving`, and the server
//! then holds the seat only for its short leaving grace. A reload takes the seat back within
//! it; a closed tab soon becomes `bye` for the other person instead of a long "reconnecting".
//! The listeners live as long as the call.

use std::rc::Rc;

use visavis_shared::ClientMessage;

use crate::browser::PageListener;
use crate::signaling::Signaling;

use super::Inner;

impl Inner {
    /// Starts listening for the page going away, once per call; `teardown` drops the
    /// listeners.
    pub(super) fn watch_page_exit(self: &Rc<Self>) {
        if !self.page_exit.borrow().is_empty() {
            return;
        }
        // `beforeunload` as well as `pagehide`: in Firefox a message sent from `pagehide` no
        // longer reaches the server (the e2e test saw it), the earlier event's does. The page
        // never cancels an unload, so either means it is going; sent twice is harmless.
        let listeners = ["beforeunload", "pagehide"]
            .into_iter()
            .filter_map(|kind| {
                let weak = Rc::downgrade(self);
                // Unlike the other events these are handled at once, not in a microtask: the
                // page may be gone before deferred work runs. Sending drops nothing.
                PageListener::on_window(kind, move |_| {
                    if let Some(inner) = weak.upgrade() {
                        inner.page_leaving();
                    }
                })
            })
            .collect();
        *self.page_exit.borrow_mut() = listeners;
    }

    /// The page is going away: a seated page says `leaving` while its socket is still open.
    fn page_leaving(&self) {
        let seated = {
            let session = self.session.borrow();
            session.room.is_some() && session.seat.is_some()
        };
        let open = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(Signaling::is_open);
        if seated && open {
            self.send(&ClientMessage::Leaving);
        }
    }
}
