//! Packet loss models: Bernoulli and Gilbert-Elliott.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::dist::{bernoulli, unit_f64};

/// A loss model, as a scenario writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Loss {
    /// No loss.
    #[default]
    None,
    /// Each packet is lost independently with probability `p`.
    Bernoulli {
        /// Loss probability per packet.
        p: f64,
    },
    /// A two-state Markov chain (Gilbert-Elliott), stepped once per packet as
    /// in Linux netem: from the good state to the bad one with probability
    /// `p_good_bad`, back with `p_bad_good`; a packet is lost with probability
    /// `loss_good` in the good state and `loss_bad` in the bad one.
    GilbertElliott {
        /// P(good → bad) per packet.
        p_good_bad: f64,
        /// P(bad → good) per packet.
        p_bad_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// Checks that every probability is in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        let probs: &[(&str, f64)] = match self {
            Loss::None => &[],
            Loss::Bernoulli { p } => &[("p", *p)],
            Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            } => &[
                ("p_good_bad", *p_good_bad),
                ("p_bad_good", *p_bad_good),
                ("loss_good", *loss_good),
                ("loss_bad", *loss_bad),
            ],
        };
        for (name, p) in probs {
            if !(0.0..=1.0).contains(p) {
                return Err(format!("{name} = {p} is not a probability between 0 and 1"));
            }
        }
        Ok(())
    }
    /// The long-run fraction of packets lost.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Bernoulli { p } => p,
            Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            } => {
                let total = p_good_bad + p_bad_good;
                if total == 0.0 {
                    return loss_good;
                }
                let bad = p_good_bad / total;
                (1.0 - bad) * loss_good + bad * loss_bad
            }
        }
    }
}

/// A loss model with its state (the Gilbert-Elliott chain's current state).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossState {
    model: Loss,
    bad: bool,
}

impl LossState {
    /// The model, starting in the good state.
    pub fn new(model: Loss) -> Self {
        LossState { model, bad: false }
    }
    /// Decides the fate of one packet: true if it is lost.
    pub fn lose<R: RngCore + ?Sized>(&mut self, rng: &mut R) -> bool {
        match self.model {
            Loss::None => false,
            Loss::Bernoulli { p } => bernoulli(rng, p),
            Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            } => {
                let flip = if self.bad { p_bad_good } else { p_good_bad };
                if unit_f64(rng) < flip {
                    self.bad = !self.bad;
                }
                bernoulli(rng, if self.bad { loss_bad } else { loss_good })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn measured(model: Loss) -> f64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut state = LossState::new(model);
        let n = 400_000;
        (0..n).filter(|_| state.lose(&mut rng)).count() as f64 / n as f64
    }

    #[test]
    fn bernoulli_rate() {
        let got = measured(Loss::Bernoulli { p: 0.02 });
        assert!((got - 0.02).abs() < 0.002, "{got}");
    }

    #[test]
    fn gilbert_elliott_stationary_rate() {
        let model = Loss::GilbertElliott {
            p_good_bad: 0.01,
            p_bad_good: 0.1,
            loss_good: 0.0,
            loss_bad: 0.5,
        };
        let want = model.mean_loss(); // (0.01/0.11)·0.5 ≈ 0.045
        let got = measured(model);
        assert!((got - want).abs() / want < 0.1, "{got} vs {want}");
    }

    #[test]
    fn validate_rejects_non_probabilities() {
        assert!(Loss::Bernoulli { p: 1.5 }.validate().is_err());
        assert!(Loss::Bernoulli { p: 0.5 }.validate().is_ok());
    }
}
