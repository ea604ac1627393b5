//! The microphone level meter of the pre-join screen and the call: a stream's audio feeds an
//! `AnalyserNode` (never the speakers), sampled ten times a second into a percentage that rises
//! at once and falls gently, so short sounds stay visible. The arithmetic is pure and tested
//! natively in `visavis_client_core::devices::level`; the meter itself uses the Web Audio API
//! only (no DOM).

use leptos::logging::warn;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    AnalyserNode, AudioContext, AudioContextState, MediaStream, MediaStreamAudioSourceNode,
};

use crate::browser::js_error;
use crate::browser::Interval;
use visavis_client_core::devices::level::{percent, smoothed};

/// How often the level is sampled: often enough to follow speech, rarely enough to cost
/// nothing (the view re-renders only when the value changes).
pub const SAMPLE_INTERVAL_MS: i32 = 100;

/// The analyser's window: 512 samples are about 10 ms at 48 kHz, plenty for a loudness.
const FFT_SIZE: u32 = 512;

/// A running meter on one stream's audio. Dropping it stops the timer, disconnects the graph
/// and closes the audio context; the stream's tracks are left alone (they belong to the call
/// or the preview).
pub struct LevelMeter {
    context: AudioContext,
    source: MediaStreamAudioSourceNode,
    // Dropped first (fields drop in order): no tick may run on a closed context.
    timer: Option<Interval>,
}

impl LevelMeter {
    /// Starts measuring `stream`'s audio, calling `on_level` with 0–100 every
    /// [`SAMPLE_INTERVAL_MS`].
    pub fn start(stream: &MediaStream, on_level: impl Fn(u8) + 'static) -> Result<Self, String> {
        let describe = |err: JsValue| js_error::describe(&err);
        let context = AudioContext::new().map_err(describe)?;
        let (source, analyser) = match analyse(&context, stream) {
            Ok(graph) => graph,
            Err(err) => {
                close(&context, "level meter");
                return Err(err);
            }
        };
        let timer = sample_every(analyser, on_level);
        if timer.is_none() {
            warn!("level meter: the browser refused the timer");
        }
        let meter = LevelMeter {
            context,
            source,
            timer,
        };
        meter.wake();
        Ok(meter)
    }

    /// Asks a suspended audio context to run. A context made without a recent click may start
    /// suspended (autoplay rules); asking again after a click lets the meter move.
    pub fn wake(&self) {
        if self.context.state() != AudioContextState::Suspended {
            return;
        }
        match self.context.resume() {
            Ok(promise) => spawn_local(async move {
                if let Err(err) = JsFuture::from(promise).await {
                    warn!(
                        "level meter: the audio context stays suspended: {}",
                        js_error::describe(&err)
                    );
                }
            }),
            Err(err) => warn!("level meter: {}", js_error::describe(&err)),
        }
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        drop(self.timer.take());
        release(&self.context, &self.source, "level meter");
    }
}

/// Samples `analyser` on a timer, reporting the smoothed level.
fn sample_every(analyser: AnalyserNode, on_level: impl Fn(u8) + 'static) -> Option<Interval> {
    let mut samples = vec![0u8; analyser.fft_size() as usize];
    let mut shown = 0u8;
    Interval::new(SAMPLE_INTERVAL_MS, move || {
        analyser.get_byte_time_domain_data(&mut samples);
        shown = smoothed(shown, percent(&samples));
        on_level(shown);
    })
}

/// Feeds `stream`'s audio into a new analyser of `context`. The analyser is not connected to
/// the speakers: the person must not hear themselves.
pub fn analyse(
    context: &AudioContext,
    stream: &MediaStream,
) -> Result<(MediaStreamAudioSourceNode, AnalyserNode), String> {
    let describe = |err: JsValue| js_error::describe(&err);
    let source = context
        .create_media_stream_source(stream)
        .map_err(describe)?;
    let analyser = context.create_analyser().map_err(describe)?;
    analyser.set_fft_size(FFT_SIZE);
    source
        .connect_with_audio_node(&analyser)
        .map_err(describe)?;
    Ok((source, analyser))
}

/// Disconnects `source` and closes `context`; `who` names the meter in the warnings.
pub fn release(context: &AudioContext, source: &MediaStreamAudioSourceNode, who: &'static str) {
    if let Err(err) = source.disconnect() {
        warn!("{who}: {}", js_error::describe(&err));
    }
    close(context, who);
}

/// Closes `context`; `who` names the meter in the warnings.
fn close(context: &AudioContext, who: &'static str) {
    match context.close() {
        Ok(promise) => spawn_local(async move {
            if let Err(err) = JsFuture::from(promise).await {
                warn!(
                    "{who}: closing the audio context: {}",
                    js_error::describe(&err)
                );
            }
        }),
        Err(err) => warn!(
            "{who}: closing the audio context: {}",
            js_error::describe(&err)
        ),
    }
}
