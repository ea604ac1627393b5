//! Event listeners on the window or the document (`pagehide`, `visibilitychange`) that own
//! their closure and take themselves off when dropped, so a call's listeners end with it.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// One listener for one event type, installed until dropped.
pub struct PageListener {
    target: EventTarget,
    kind: &'static str,
    // Kept alive as long as it is installed; taken off before it is dropped.
    callback: Closure<dyn FnMut(Event)>,
}

impl PageListener {
    /// Calls `handler` on each `kind` event of the window. `None` without a window.
    pub fn on_window(kind: &'static str, handler: impl FnMut(Event) + 'static) -> Option<Self> {
        let target: EventTarget = web_sys::window()?.into();
        PageListener::install(target, kind, handler)
    }

    /// Calls `handler` on each `kind` event of the document. `None` without a document.
    pub fn on_document(kind: &'static str, handler: impl FnMut(Event) + 'static) -> Option<Self> {
        let target: EventTarget = web_sys::window()?.document()?.into();
        PageListener::install(target, kind, handler)
    }

    fn install(
        target: EventTarget,
        kind: &'static str,
        handler: impl FnMut(Event) + 'static,
    ) -> Option<Self> {
        let callback = Closure::<dyn FnMut(Event)>::new(handler);
        target
            .add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())
            .ok()?;
        Some(PageListener {
            target,
            kind,
            callback,
        })
    }
}

impl Drop for PageListener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

/// Whether the document is visible now (`document.visibilityState`); true if it cannot be read.
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}
