//! How the microphone's sound is processed: for speech, echo cancellation always, with noise
//! suppression and automatic gain on by default (a toggle turns those two off); in music mode
//! none of the three, so an instrument or a song comes through as played (these filters take
//! music for noise, pump its loudness and cut sustained notes).

/// The person's choices for the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioChoice {
    /// Noise suppression and automatic gain control (speech only).
    pub voice_cleanup: bool,
    /// Music mode: no echo cancellation, noise suppression or gain control.
    pub music: bool,
}

impl Default for AudioChoice {
    fn default() -> Self {
        AudioChoice {
            voice_cleanup: true,
            music: false,
        }
    }
}

/// The three audio processing constraints of `getUserMedia` / `applyConstraints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioProcessing {
    /// `echoCancellation`.
    pub echo_cancellation: bool,
    /// `noiseSuppression`.
    pub noise_suppression: bool,
    /// `autoGainControl`.
    pub auto_gain_control: bool,
}

impl AudioChoice {
    /// The constraints for these choices. Music mode wins over the speech toggle.
    pub fn processing(self) -> AudioProcessing {
        if self.music {
            return AudioProcessing {
                echo_cancellation: false,
                noise_suppression: false,
                auto_gain_control: false,
            };
        }
        AudioProcessing {
            // Without it, the other person hears themselves through our speakers.
            echo_cancellation: true,
            noise_suppression: self.voice_cleanup,
            auto_gain_control: self.voice_cleanup,
        }
    }

    /// Whether the speech toggle can be used: in music mode it has no effect.
    pub fn voice_cleanup_available(self) -> bool {
        !self.music
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_every_speech_filter_is_on() {
        let on = AudioChoice::default().processing();
        assert_eq!(
            on,
            AudioProcessing {
                echo_cancellation: true,
                noise_suppression: true,
                auto_gain_control: true,
            }
        );
    }

    #[test]
    fn the_toggle_turns_noise_suppression_and_gain_off_but_keeps_echo_cancellation() {
        let choice = AudioChoice {
            voice_cleanup: false,
            music: false,
        };
        assert_eq!(
            choice.processing(),
            AudioProcessing {
                echo_cancellation: true,
                noise_suppression: false,
                auto_gain_control: false,
            }
        );
    }

    #[test]
    fn music_mode_turns_all_three_off_whatever_the_toggle_says() {
        for voice_cleanup in [true, false] {
            let choice = AudioChoice {
                voice_cleanup,
                music: true,
            };
            assert_eq!(
                choice.processing(),
                AudioProcessing {
                    echo_cancellation: false,
                    noise_suppression: false,
                    auto_gain_control: false,
                }
            );
            assert!(!choice.voice_cleanup_available());
        }
        assert!(AudioChoice::default().voice_cleanup_available());
    }
}
