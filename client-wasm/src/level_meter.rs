//! The microphone level meter of the pre-join screen and the call: a stream's audio feeds an
//! `AnalyserNode` (never the speakers), sampled ten times a second into a percentage that rises
//! at once and falls gently, so short sounds stay visible. The arithmetic is pure and tested
//! natively; the meter itself uses the Web Audio API only (no DOM).

use leptos::logging::warn;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    AnalyserNode, AudioContext, AudioContextState, MediaStream, MediaStreamAudioSourceNode,
};

use crate::browser::Interval;
use crate::diagnosis;
use crate::js_error;

/// How often the level is sampled: often enough to follow speech, rarely enough to cost
/// nothing (the view re-renders only when the value changes).
pub const SAMPLE_INTERVAL_MS: i32 = 100;

/// How many points the shown level may fall per sample, so that a syllable does not flash.
pub const FALL_PER_SAMPLE: u8 = 8;

/// The analyser's window: 512 samples are about 10 ms at 48 kHz, plenty for a loudness.
const FFT_SIZE: u32 = 512;

/// The loudness of an analyser's time-domain bytes (silence is 128) as 0–100.
pub fn percent(samples: &[u8]) -> u8 {
    // level_from_samples is clamped to 0..=1, so the product fits a u8.
    (diagnosis::level_from_samples(samples) * 100.0).round() as u8
}

/// The level to show after `previous`, given the new measurement: up at once, down by at most
/// [`FALL_PER_SAMPLE`].
pub fn smoothed(previous: u8, measured: u8) -> u8 {
    measured.max(previous.saturating_sub(FALL_PER_SAMPLE))
}

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
        let graph = (|| {
            let source = context
                .create_media_stream_source(stream)
                .map_err(describe)?;
            let analyser = context.create_analyser().map_err(describe)?;
            analyser.set_fft_size(FFT_SIZE);
            source
                .connect_with_audio_node(&analyser)
                .map_err(describe)?;
            Ok::<_, String>((source, analyser))
        })();
        let (source, analyser) = match graph {
            Ok(graph) => graph,
            Err(err) => {
                close(&context);
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
        if let Err(err) = self.source.disconnect() {
            warn!("level meter: {}", js_error::describe(&err));
        }
        close(&self.context);
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

fn close(context: &AudioContext) {
    match context.close() {
        Ok(promise) => spawn_local(async move {
            if let Err(err) = JsFuture::from(promise).await {
                warn!(
                    "level meter: closing the audio context: {}",
                    js_error::describe(&err)
                );
            }
        }),
        Err(err) => warn!(
            "level meter: closing the audio context: {}",
            js_error::describe(&err)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_reads_zero_and_a_full_swing_reads_a_hundred() {
        assert_eq!(percent(&[128; 512]), 0);
        assert_eq!(percent(&[]), 0);
        let square: Vec<u8> = (0..512).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert_eq!(percent(&square), 100);
    }

    #[test]
    fn a_quiet_sound_reads_low_and_a_louder_one_higher() {
        // A sine of amplitude a has an RMS of a/sqrt(2); the meter shows three times that.
        let sine = |amplitude: f64| -> Vec<u8> {
            (0..512)
                .map(|i| {
                    let x = (i as f64 / 512.0 * 2.0 * std::f64::consts::PI * 8.0).sin();
                    (128.0 + x * amplitude * 127.0).round() as u8
                })
                .collect()
        };
        let quiet = percent(&sine(0.05));
        let loud = percent(&sine(0.2));
        assert!((8..=13).contains(&quiet), "quiet: {quiet}");
        assert!((38..=45).contains(&loud), "loud: {loud}");
    }

    #[test]
    fn the_shown_level_rises_at_once_and_falls_gently() {
        assert_eq!(smoothed(0, 60), 60);
        assert_eq!(smoothed(60, 0), 60 - FALL_PER_SAMPLE);
        assert_eq!(smoothed(60, 55), 55);
        assert_eq!(smoothed(3, 0), 0);
        let mut shown = 100;
        let mut steps = 0;
        while shown > 0 {
            shown = smoothed(shown, 0);
            steps += 1;
        }
        // From full to silent in about a second and a half at ten samples a second.
        assert!((10..=15).contains(&steps), "{steps} samples");
    }
}
