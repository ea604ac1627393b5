//! Perfect negotiation: the rules that let either side renegotiate at any moment (a track
//! added, an ICE restart) without the two offers ever deadlocking. Pure Rust, unit-tested
//! natively; the browser crate's `peer/` applies the decisions to the peer connection.
//!
//! When both sides send an offer at once ("glare"), the polite side (the Callee) gives way:
//! it rolls its own offer back and answers the other one. The impolite side (the Caller)
//! ignores the offer that collided with its own and waits for the answer to it. Both end in
//! `stable`, and the polite side's change is renegotiated afterwards by the browser.

/// What kind of description arrived from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// An offer (`invite`).
    Offer,
    /// An answer (`ok`).
    Answer,
}

/// What to do with an incoming description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Drop it: an offer that collided with ours, and we are the impolite side.
    Ignore,
    /// Apply it (rolling back our own offer implicitly if there is one); if it is an offer,
    /// answer it afterwards.
    Apply {
        /// Whether an answer must be created and sent.
        answer: bool,
    },
}

/// The negotiation flags of one peer connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfectNegotiation {
    polite: bool,
    /// An offer of ours is being created and set (between `negotiationneeded` and the end of
    /// `setLocalDescription`).
    making_offer: bool,
    /// The last incoming offer was ignored, so errors about its candidates are expected.
    ignore_offer: bool,
    /// An answer is being applied: the connection is about to be stable again, so an offer
    /// arriving now is not a collision.
    answer_pending: bool,
    /// Whether this side may start a negotiation. The side that did not open the call waits
    /// for the first offer, so a new call has one offer, not two colliding ones.
    may_offer: bool,
}

impl PerfectNegotiation {
    /// The flags of a new connection. `opener` is the side that makes the first offer.
    pub fn new(polite: bool, opener: bool) -> PerfectNegotiation {
        PerfectNegotiation {
            polite,
            making_offer: false,
            ignore_offer: false,
            answer_pending: false,
            may_offer: opener,
        }
    }

    /// `negotiationneeded` fired: whether to make an offer now.
    pub fn wants_offer(&self) -> bool {
        self.may_offer && !self.making_offer
    }

    /// An offer of ours is being made.
    pub fn offer_started(&mut self) {
        self.making_offer = true;
    }

    /// Our offer is set as the local description (or failed).
    pub fn offer_finished(&mut self) {
        self.making_offer = false;
    }

    /// A description arrived; `stable` is whether the connection's signaling state is
    /// `stable` right now.
    pub fn incoming(&mut self, kind: Incoming, stable: bool) -> Decision {
        let ready_for_offer = !self.making_offer && (stable || self.answer_pending);
        let collision = kind == Incoming::Offer && !ready_for_offer;
        self.ignore_offer = !self.polite && collision;
        if self.ignore_offer {
            return Decision::Ignore;
        }
        self.answer_pending = kind == Incoming::Answer;
        Decision::Apply {
            answer: kind == Incoming::Offer,
        }
    }

    /// The incoming description was applied (or failed to apply).
    pub fn applied(&mut self, kind: Incoming) {
        self.answer_pending = false;
        if kind == Incoming::Offer {
            // Once the first offer is answered, either side may renegotiate.
            self.may_offer = true;
        }
    }

    /// Whether a failure to add a remote candidate is expected (it belongs to an offer we
    /// ignored) and should not be reported.
    pub fn ignoring_offer(&self) -> bool {
        self.ignore_offer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_opener_offers_first() {
        assert!(PerfectNegotiation::new(false, true).wants_offer());
        assert!(!PerfectNegotiation::new(true, false).wants_offer());
    }

    #[test]
    fn the_other_side_may_renegotiate_once_it_answered_an_offer() {
        let mut callee = PerfectNegotiation::new(true, false);
        assert_eq!(
            callee.incoming(Incoming::Offer, true),
            Decision::Apply { answer: true }
        );
        callee.applied(Incoming::Offer);
        assert!(callee.wants_offer());
    }

    #[test]
    fn no_second_offer_while_one_is_being_made() {
        let mut caller = PerfectNegotiation::new(false, true);
        caller.offer_started();
        assert!(!caller.wants_offer());
        caller.offer_finished();
        assert!(caller.wants_offer());
    }

    #[test]
    fn in_glare_the_impolite_side_ignores_the_offer() {
        let mut caller = PerfectNegotiation::new(false, true);
        caller.offer_started();
        caller.offer_finished();
        // Our offer is out (have-local-offer), theirs arrives.
        assert_eq!(caller.incoming(Incoming::Offer, false), Decision::Ignore);
        assert!(caller.ignoring_offer());
        // Our answer then arrives and is applied.
        assert_eq!(
            caller.incoming(Incoming::Answer, false),
            Decision::Apply { answer: false }
        );
        assert!(!caller.ignoring_offer());
    }

    #[test]
    fn in_glare_the_polite_side_rolls_back_and_answers() {
        let mut callee = PerfectNegotiation::new(true, false);
        callee.incoming(Incoming::Offer, true);
        callee.applied(Incoming::Offer);
        callee.offer_started();
        callee.offer_finished();
        assert_eq!(
            callee.incoming(Incoming::Offer, false),
            Decision::Apply { answer: true }
        );
        assert!(!callee.ignoring_offer());
    }

    #[test]
    fn an_offer_arriving_while_ours_is_being_made_collides() {
        let mut caller = PerfectNegotiation::new(false, true);
        caller.offer_started();
        assert_eq!(caller.incoming(Incoming::Offer, true), Decision::Ignore);
        let mut callee = PerfectNegotiation::new(true, true);
        callee.offer_started();
        assert_eq!(
            callee.incoming(Incoming::Offer, true),
            Decision::Apply { answer: true }
        );
    }

    #[test]
    fn an_offer_right_after_an_answer_is_being_applied_is_no_collision() {
        let mut caller = PerfectNegotiation::new(false, true);
        caller.incoming(Incoming::Answer, false);
        // Not stable yet, but the answer being applied will make it so.
        assert_eq!(
            caller.incoming(Incoming::Offer, false),
            Decision::Apply { answer: true }
        );
    }

    #[test]
    fn applying_clears_the_pending_answer() {
        let mut caller = PerfectNegotiation::new(false, true);
        caller.incoming(Incoming::Answer, false);
        caller.applied(Incoming::Answer);
        assert_eq!(caller.incoming(Incoming::Offer, false), Decision::Ignore);
    }
}
