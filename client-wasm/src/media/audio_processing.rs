//! The microphone's sound processing in the browser: the constraints every microphone is
//! opened with, and changing them on a live track (`applyConstraints`). The rules are in
//! `visavis_client_core::devices::audio`. No DOM elements.

use std::cell::Cell;

use wasm_bindgen_futures::JsFuture;
use web_sys::{ConstrainBooleanParameters, MediaStreamTrack, MediaTrackConstraints};

use crate::browser::js_error;
use visavis_client_core::devices::{AudioChoice, AudioProcessing};

thread_local! {
    /// The person's current choice. Kept here, beside the constraints it decides, so that every
    /// microphone opened later (a device switch, a reopened preview) follows it.
    static CHOICE: Cell<AudioChoice> = Cell::new(AudioChoice::default());
}

/// The current choice.
pub fn choice() -> AudioChoice {
    CHOICE.with(Cell::get)
}

/// Makes `choice` the one new microphones are opened with.
pub fn set_choice(choice: AudioChoice) {
    CHOICE.with(|cell| cell.set(choice));
}

/// The audio constraints for the current choice, as preferences: what a camera and microphone
/// opened together ask for, since a constraint the device cannot meet must not cost the camera.
pub fn voice_constraints() -> MediaTrackConstraints {
    constraints(choice().processing())
}

/// The audio constraints for the current choice, required exactly: what a microphone opened on
/// its own asks for first. Chromium treats plain values as mere hints and, for some
/// combinations (echo cancellation without noise suppression and gain), opens the microphone
/// with none of the three.
pub fn exact_voice_constraints() -> MediaTrackConstraints {
    let processing = choice().processing();
    let audio = MediaTrackConstraints::new();
    let exactly = |value: bool| {
        let wanted = ConstrainBooleanParameters::new();
        wanted.set_exact(value);
        wanted
    };
    audio
        .set_echo_cancellation_constrain_boolean_parameters(&exactly(processing.echo_cancellation));
    audio
        .set_noise_suppression_constrain_boolean_parameters(&exactly(processing.noise_suppression));
    audio
        .set_auto_gain_control_constrain_boolean_parameters(&exactly(processing.auto_gain_control));
    audio
}

fn constraints(processing: AudioProcessing) -> MediaTrackConstraints {
    let audio = MediaTrackConstraints::new();
    audio.set_echo_cancellation_bool(processing.echo_cancellation);
    audio.set_noise_suppression_bool(processing.noise_suppression);
    audio.set_auto_gain_control_bool(processing.auto_gain_control);
    audio
}

/// Whether `track` runs with `processing`, as far as the browser reports it (a setting it does
/// not report counts as matching).
pub fn runs_with(track: &MediaStreamTrack, processing: AudioProcessing) -> bool {
    let settings = track.get_settings();
    let matches = |actual: Option<bool>, wanted: bool| actual.is_none_or(|a| a == wanted);
    matches(
        settings.get_echo_cancellation(),
        processing.echo_cancellation,
    ) && matches(
        settings.get_noise_suppression(),
        processing.noise_suppression,
    ) && matches(
        settings.get_auto_gain_control(),
        processing.auto_gain_control,
    )
}

/// Asks the browser to change a live microphone track to `processing`. Some browsers accept
/// and change nothing (Chromium keeps a track's processing for its life), so the caller checks
/// with [`runs_with`] and opens a new track if needed.
pub async fn apply(track: &MediaStreamTrack, processing: AudioProcessing) -> Result<(), String> {
    let promise = track
        .apply_constraints_with_constraints(&constraints(processing))
        .map_err(|err| js_error::describe(&err))?;
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|err| js_error::describe(&err))
}
