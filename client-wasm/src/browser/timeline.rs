//! Performance marks of a call's steps (`visavis:<step>`), so a developer (the DevTools
//! Performance panel) or the e2e harness (`performance.getEntriesByType('mark')`) can see where
//! set-up time goes. Nothing is kept in the page's globals; a mark costs microseconds.

/// Marks `step` now, as `visavis:<step>`.
pub fn mark(step: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        // A refused mark only loses a measurement.
        let _ = performance.mark(&format!("visavis:{step}"));
    }
}
