//! Random durations: the latency distributions of links and workloads, and the
//! few random-number helpers that every other module reuses.
//!
//! Everything here is computed so that a seed gives the same numbers on every
//! machine, bit for bit:
//!
//! - transcendental functions come from the pure-Rust `libm` crate
//!   (`libm::log`, `libm::exp`, `libm::cos`, `libm::pow`, `libm::erfc`), never
//!   from `f64::ln`, `f64::exp` and friends, because the standard library's
//!   versions call the platform's C maths library, whose last bit differs
//!   between operating systems and versions; a one-ulp difference in a latency
//!   can reorder two events and change a whole run;
//! - floats are only an intermediate step: a sample is rounded to the nearest
//!   whole nanosecond and returned as a [`Duration`];
//! - the number of values drawn from the generator depends only on the
//!   distribution and on the values drawn, never on anything else.
//!
//! Where this departs from the textbook definitions:
//!
//! - [`Dist::Normal`] is truncated at zero (a delay cannot be negative) by
//!   *resampling*, not clamping: a draw below zero is thrown away and drawn
//!   again, so samples follow the normal distribution conditioned on being
//!   non-negative. Clamping would pile the negative mass up at zero and shift
//!   the mean. [`Dist::mean`] and [`Dist::quantile`] are those of the
//!   truncated distribution, which differ from `mean` by less than 0.5 % of
//!   `std_dev` when `mean >= 3 * std_dev`.
//! - [`Dist::LogNormal`] is parameterised by the mean and standard deviation of
//!   the delay itself, not of its logarithm: σ² = ln(1 + sd²/mean²),
//!   μ = ln(mean) − σ²/2.
//! - [`Dist::Uniform`] draws whole nanoseconds from `min` to `max`, both
//!   included, exactly (Lemire's multiply-and-reject), not a rounded float.
//! - Every sample is at most [`Dist::MAX_SAMPLE`] (100 years): the heavy tails
//!   of the unbounded distributions saturate there instead of overflowing
//!   virtual time, and [`Dist::validate`] rejects parameters above it.

use rand::RngCore;

use crate::time::Duration;

/// √(2π).
const SQRT_2PI: f64 = 2.506_628_274_631_000_2;

/// A distribution of durations, as scenario files write it.
///
/// Build it from a scenario, call [`Dist::validate`] once, then draw from it
/// with [`Dist::sample`]. On a distribution that fails validation, `sample`,
/// `mean` and `quantile` do not panic but their values are unspecified.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    /// Always the same duration; draws nothing from the generator.
    /// RON: `Constant("10ms")`.
    Constant(Duration),
    /// Uniform over the whole nanoseconds from `min` to `max`, both included.
    /// RON: `Uniform(min: "5ms", max: "15ms")`.
    Uniform {
        /// The shortest value.
        min: Duration,
        /// The longest value; at least `min`.
        max: Duration,
    },
    /// A normal distribution truncated at zero by resampling (see the module
    /// docs). RON: `Normal(mean: "20ms", std_dev: "5ms")`.
    Normal {
        /// The mean of the normal before truncation.
        mean: Duration,
        /// The standard deviation of the normal before truncation; positive.
        std_dev: Duration,
    },
    /// A log-normal distribution with the given mean and standard deviation
    /// (of the delay, not of its logarithm).
    /// RON: `LogNormal(mean: "50ms", std_dev: "20ms")`.
    LogNormal {
        /// The mean delay; positive.
        mean: Duration,
        /// The standard deviation of the delay; positive.
        std_dev: Duration,
    },
    /// An exponential distribution. RON: `Exponential(mean: "10ms")`.
    Exponential {
        /// The mean delay; positive.
        mean: Duration,
    },
    /// A Pareto (type I) distribution: P(X > x) = (scale / x)^shape for
    /// x ≥ scale. Its mean is shape·scale/(shape − 1) when shape > 1 and
    /// infinite otherwise. RON: `Pareto(scale: "10ms", shape: 2.5)`.
    Pareto {
        /// The minimum value x_m; positive.
        scale: Duration,
        /// The tail index α; positive and finite. Smaller is heavier.
        shape: f64,
    },
}

impl Dist {
    /// The largest value any distribution returns (100 years of 365 days):
    /// unbounded tails saturate here, leaving room to add a sample to any
    /// instant of a run shorter than about 480 years without overflow.
    pub const MAX_SAMPLE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    /// Draws one duration, rounded to the nearest nanosecond and at most
    /// [`Dist::MAX_SAMPLE`].
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> Duration {
        match *self {
            Dist::Constant(d) => d,
            Dist::Uniform { min, max } => {
                let span = max.as_nanos().saturating_sub(min.as_nanos());
                let offset = match span.checked_add(1) {
                    Some(count) => uniform_below(rng, count),
                    None => rng.next_u64(),
                };
                Duration::from_nanos(min.as_nanos() + offset)
            }
            Dist::Normal { mean, std_dev } => {
                let (mu, sigma) = (nanos(mean), nanos(std_dev));
                // mean >= 0, so at least half of the mass is accepted: the loop
                // runs at most twice on average.
                loop {
                    let x = mu + sigma * standard_normal(rng);
                    if x >= 0.0 {
                        break duration_from_nanos(x);
                    }
                }
            }
            Dist::LogNormal { mean, std_dev } => {
                let (mu, sigma) = lognormal_params(mean, std_dev);
                duration_from_nanos(libm::exp(mu + sigma * standard_normal(rng)))
            }
            Dist::Exponential { mean } => duration_from_nanos(exponential_f64(rng, nanos(mean))),
            Dist::Pareto { scale, shape } => {
                // 1 - u is in (0, 1], so the power is at least 1 and finite
                // or +inf (which saturates).
                let tail = libm::pow(1.0 - unit_f64(rng), -1.0 / shape);
                duration_from_nanos(nanos(scale) * tail).max(scale)
            }
        }
    }

    /// The analytic mean, rounded to the nearest nanosecond; `None` for a
    /// Pareto with shape ≤ 1, whose mean is infinite. For `Normal` it is the
    /// mean of the truncated distribution: μ + σ·φ(α)/(1 − Φ(α)), α = −μ/σ.
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            Dist::Constant(d) => Some(d),
            Dist::Uniform { min, max } => {
                let twice = u128::from(min.as_nanos()) + u128::from(max.as_nanos());
                let mid = u64::try_from(twice.div_ceil(2)).unwrap_or(u64::MAX);
                Some(Duration::from_nanos(mid))
            }
            Dist::Normal { mean, std_dev } => {
                let (mu, sigma) = (nanos(mean), nanos(std_dev));
                let alpha = -mu / sigma;
                let density = libm::exp(-alpha * alpha / 2.0) / SQRT_2PI;
                let kept = normal_upper_tail(alpha);
                Some(duration_from_nanos(mu + sigma * density / kept))
            }
            Dist::LogNormal { mean, .. } | Dist::Exponential { mean } => Some(mean),
            Dist::Pareto { scale, shape } => {
                (shape > 1.0).then(|| duration_from_nanos(shape * nanos(scale) / (shape - 1.0)))
            }
        }
    }

    /// The analytic `q`-quantile (the value below which a fraction `q` of the
    /// samples fall), rounded to the nearest nanosecond and saturated at
    /// [`Dist::MAX_SAMPLE`] (so `quantile(1.0)` of an unbounded distribution
    /// is `MAX_SAMPLE`). `None` when `q` is not in `[0, 1]`.
    ///
    /// Every variant has a closed form except the normal ones, which use
    /// [`standard_normal_quantile`] (relative error about 1e-15). `Uniform`
    /// gives the continuous quantile `min + q·(max − min)`.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        Some(match *self {
            Dist::Constant(d) => d,
            Dist::Uniform { min, max } => {
                let span = max.as_nanos().saturating_sub(min.as_nanos()) as f64;
                min.saturating_add(duration_from_nanos(q * span))
            }
            Dist::Normal { mean, std_dev } => {
                let (mu, sigma) = (nanos(mean), nanos(std_dev));
                let kept = normal_upper_tail(-mu / sigma);
                // Invert through whichever tail keeps the probability small,
                // where floats are accurate.
                let below = (1.0 - kept) + q * kept;
                let above = (1.0 - q) * kept;
                let z = if below <= 0.5 {
                    standard_normal_quantile(below)
                } else {
                    -standard_normal_quantile(above)
                };
                duration_from_nanos(mu + sigma * z)
            }
            Dist::LogNormal { mean, std_dev } => {
                let (mu, sigma) = lognormal_params(mean, std_dev);
                duration_from_nanos(libm::exp(mu + sigma * standard_normal_quantile(q)))
            }
            Dist::Exponential { mean } => duration_from_nanos(-nanos(mean) * libm::log1p(-q)),
            Dist::Pareto { scale, shape } => {
                duration_from_nanos(nanos(scale) * libm::pow(1.0 - q, -1.0 / shape)).max(scale)
            }
        })
    }

    /// The smallest value [`Dist::sample`] can return: the value of a
    /// constant, `min` of a uniform, `scale` of a Pareto, zero otherwise.
    /// The kernel uses it as a link's propagation-delay lower bound.
    pub fn lower_bound(&self) -> Duration {
        match *self {
            Dist::Constant(d) => d,
            Dist::Uniform { min, .. } => min,
            Dist::Pareto { scale, .. } => scale,
            Dist::Normal { .. } | Dist::LogNormal { .. } | Dist::Exponential { .. } => {
                Duration::ZERO
            }
        }
    }

    /// Checks the parameters; the error says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |what: &str, d: Duration| {
            if d == Duration::ZERO {
                Err(format!(
                    "{what} must be positive (for a fixed delay use Constant)"
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            Dist::Constant(_) => {}
            Dist::Uniform { min, max } => {
                if min > max {
                    return Err(format!(
                        "Uniform needs min <= max, got min = {min} and max = {max}"
                    ));
                }
            }
            Dist::Normal { std_dev, .. } => positive("Normal's std_dev", std_dev)?,
            Dist::LogNormal { mean, std_dev } => {
                positive("LogNormal's mean", mean)?;
                positive("LogNormal's std_dev", std_dev)?;
            }
            Dist::Exponential { mean } => positive("Exponential's mean", mean)?,
            Dist::Pareto { scale, shape } => {
                positive("Pareto's scale", scale)?;
                if !(shape.is_finite() && shape > 0.0) {
                    return Err(format!(
                        "Pareto's shape must be a positive finite number, got {shape}"
                    ));
                }
            }
        }
        match self
            .parameters()
            .into_iter()
            .find(|&d| d > Self::MAX_SAMPLE)
        {
            Some(d) => Err(format!(
                "durations in a distribution must be at most {} (100 years), got {d}",
                Self::MAX_SAMPLE
            )),
            None => Ok(()),
        }
    }

    /// The duration parameters, for the range check of `validate`.
    fn parameters(&self) -> Vec<Duration> {
        match *self {
            Dist::Constant(d) | Dist::Exponential { mean: d } | Dist::Pareto { scale: d, .. } => {
                vec![d]
            }
            Dist::Uniform { min, max } => vec![min, max],
            Dist::Normal { mean, std_dev } | Dist::LogNormal { mean, std_dev } => {
                vec![mean, std_dev]
            }
        }
    }
}

/// A duration in nanoseconds as a float (exact below 2⁵³ ns, about 104 days).
fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Rounds a float number of nanoseconds to the nearest nanosecond, mapping
/// NaN and negatives to zero and saturating at [`Dist::MAX_SAMPLE`].
fn duration_from_nanos(ns: f64) -> Duration {
    let cap = Dist::MAX_SAMPLE.as_nanos();
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else if ns >= cap as f64 {
        Dist::MAX_SAMPLE
    } else {
        Duration::from_nanos((libm::round(ns) as u64).min(cap))
    }
}

/// (μ, σ) of the underlying normal, in log-nanoseconds, of a log-normal with
/// the given mean and standard deviation.
fn lognormal_params(mean: Duration, std_dev: Duration) -> (f64, f64) {
    let ratio = nanos(std_dev) / nanos(mean);
    let var = libm::log1p(ratio * ratio);
    (libm::log(nanos(mean)) - var / 2.0, libm::sqrt(var))
}

/// 1 − Φ(x), the probability that a standard normal exceeds `x`, accurate in
/// both tails (erfc does not cancel).
fn normal_upper_tail(x: f64) -> f64 {
    0.5 * libm::erfc(x / core::f64::consts::SQRT_2)
}

/// A uniform float in `[0, 1)`: the top 53 bits of one `next_u64`, times 2⁻⁵³.
/// Every multiple of 2⁻⁵³ below one is equally likely; 1.0 never occurs.
pub fn unit_f64<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n`, exactly (Lemire's multiply-and-reject, which
/// usually draws one `u64`).
///
/// # Panics
/// If `n` is zero: there is no integer to return.
pub fn uniform_below<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    assert!(n > 0, "uniform_below: the range 0..0 is empty");
    let mut wide = u128::from(rng.next_u64()) * u128::from(n);
    if (wide as u64) < n {
        // Reject the 2^64 mod n low products that would favour some results.
        let threshold = n.wrapping_neg() % n;
        while (wide as u64) < threshold {
            wide = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (wide >> 64) as u64
}

/// An exponential variate with the given mean, by inverse transform:
/// `-mean · ln(1 − u)` with `u` from [`unit_f64`], so the logarithm's argument
/// is in `[2⁻⁵³, 1]` and never zero. The result is finite, at most about
/// 36.7 · mean.
pub fn exponential_f64<R: RngCore + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    -mean * libm::log(1.0 - unit_f64(rng))
}

/// `true` with probability `p` (`p <= 0` never, `p >= 1` always, NaN never).
/// Always draws exactly one `u64`, whatever `p`, so that changing a
/// probability does not shift the draws that follow.
pub fn bernoulli<R: RngCore + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit_f64(rng) < p
}

/// A standard normal variate by the Box–Muller transform (cosine branch only),
/// drawing exactly two `u64`s: √(−2 ln u₁) · cos(2π u₂) with u₁ in (0, 1].
pub fn standard_normal<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - unit_f64(rng);
    let u2 = unit_f64(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
}

/// Φ⁻¹(p), the quantile of the standard normal: −∞ at 0, +∞ at 1, NaN outside
/// `[0, 1]`.
///
/// Acklam's rational approximation (relative error below 1.15e-9) followed by
/// one Halley step on `libm::erfc`, which brings the relative error to about
/// 1e-15 over the whole range. The upper half is computed as −Φ⁻¹(1 − p),
/// where `1 − p` is exact, so both tails are equally accurate.
pub fn standard_normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        f64::NAN
    } else if p > 0.5 {
        -lower_normal_quantile(1.0 - p)
    } else {
        lower_normal_quantile(p)
    }
}

/// Φ⁻¹(p) for `p` in `[0, 0.5]`.
fn lower_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    let x = if p < P_LOW {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step on f(x) = Φ(x) − p. Below p ≈ 1e-300 the density
    // underflows and the step is not finite; the approximation stands there.
    let e = normal_upper_tail(-x) - p;
    let u = e * SQRT_2PI * libm::exp(x * x / 2.0);
    let refined = x - u / (1.0 + x * u / 2.0);
    if refined.is_finite() {
        refined
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A generator that returns the same word forever, to reach edge cases.
    struct Fixed(u64);
    impl RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.0 as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for (i, b) in dst.iter_mut().enumerate() {
                *b = self.0.to_le_bytes()[i % 8];
            }
        }
    }

    /// Relative difference of `got` from `want`.
    fn rel(got: f64, want: f64) -> f64 {
        ((got - want) / want).abs()
    }

    /// Draws `n` samples and checks them against the analytic mean and the
    /// 50th, 90th and 99th percentiles; every sample must be at least the
    /// lower bound.
    fn check_fidelity(dist: &Dist, seed: u64, mean_tol: f64, quantile_tol: f64) {
        dist.validate().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 200_000;
        let mut xs: Vec<u64> = (0..n).map(|_| dist.sample(&mut rng).as_nanos()).collect();
        let lower = dist.lower_bound().as_nanos();
        assert!(
            xs.iter().all(|&x| x >= lower),
            "{dist:?} went below {lower}"
        );
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let want = nanos(dist.mean().unwrap());
        assert!(
            rel(mean, want) < mean_tol,
            "{dist:?}: sample mean {mean} vs {want}"
        );
        xs.sort_unstable();
        for q in [0.5, 0.9, 0.99] {
            let got = xs[(q * n as f64) as usize] as f64;
            let want = nanos(dist.quantile(q).unwrap());
            assert!(
                rel(got, want) < quantile_tol,
                "{dist:?}: p{q} is {got}, analytic {want}"
            );
        }
    }

    #[test]
    fn unit_f64_spans_half_open_interval_with_53_bits() {
        assert_eq!(unit_f64(&mut Fixed(0)), 0.0);
        assert_eq!(unit_f64(&mut Fixed(u64::MAX)), 1.0 - 2f64.powi(-53));
        assert_eq!(unit_f64(&mut Fixed(1 << 11)), 2f64.powi(-53));
        // The low 11 bits are dropped.
        assert_eq!(unit_f64(&mut Fixed((1 << 11) - 1)), 0.0);
    }

    #[test]
    fn uniform_below_is_exact_and_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[uniform_below(&mut rng, 6) as usize] += 1;
        }
        // Each face 10,000 ± 4 standard deviations (≈ 365).
        assert!(
            counts.iter().all(|&c| c.abs_diff(10_000) < 365),
            "{counts:?}"
        );
        assert_eq!(uniform_below(&mut Fixed(u64::MAX), 1), 0);
        assert_eq!(uniform_below(&mut Fixed(u64::MAX), u64::MAX), u64::MAX - 1);
    }

    #[test]
    fn exponential_never_takes_log_of_zero() {
        assert_eq!(exponential_f64(&mut Fixed(0), 1.0), 0.0);
        let top = exponential_f64(&mut Fixed(u64::MAX), 1.0);
        assert!(
            (top - 53.0 * core::f64::consts::LN_2).abs() < 1e-12,
            "{top}"
        );
    }

    #[test]
    fn bernoulli_extremes_and_rate() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        assert!((0..1000).all(|_| !bernoulli(&mut rng, 0.0)));
        assert!((0..1000).all(|_| bernoulli(&mut rng, 1.0)));
        assert!(!bernoulli(&mut rng, f64::NAN));
        let hits = (0..100_000).filter(|_| bernoulli(&mut rng, 0.3)).count();
        // 30,000 ± 4 standard deviations (≈ 580).
        assert!(hits.abs_diff(30_000) < 580, "{hits}");
    }

    #[test]
    fn standard_normal_has_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        let within_1 = xs.iter().filter(|x| x.abs() < 1.0).count() as f64 / n as f64;
        assert!((within_1 - 0.682_689_492).abs() < 0.005, "{within_1}");
    }

    #[test]
    fn standard_normal_quantile_known_values() {
        for (p, want) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.9, 1.281_551_565_544_600_4),
            (0.999, 3.090_232_306_167_813_5),
            (0.01, -2.326_347_874_040_841),
            (0.3, -0.524_400_512_708_041),
            (1e-10, -6.361_340_902_404_056),
        ] {
            let got = standard_normal_quantile(p);
            assert!(
                (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                "p = {p}: {got} vs {want}"
            );
        }
        for tiny in [1e-300, f64::MIN_POSITIVE, 5e-324] {
            let z = standard_normal_quantile(tiny);
            assert!(z.is_finite() && z < -37.0, "p = {tiny:e}: {z}");
        }
        assert_eq!(standard_normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(standard_normal_quantile(1.0), f64::INFINITY);
        assert!(standard_normal_quantile(1.5).is_nan());
        assert!(standard_normal_quantile(f64::NAN).is_nan());
    }

    #[test]
    fn constant_known_answer() {
        let d = Dist::Constant(ms(10));
        check_fidelity(&d, 1, 1e-12, 1e-12);
        assert_eq!(d.quantile(0.0), Some(ms(10)));
    }

    #[test]
    fn uniform_known_answer() {
        check_fidelity(
            &Dist::Uniform {
                min: ms(5),
                max: ms(15),
            },
            2,
            0.01,
            0.02,
        );
        let tiny = Dist::Uniform {
            min: Duration::from_nanos(7),
            max: Duration::from_nanos(9),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut seen = [false; 3];
        for _ in 0..100 {
            seen[(tiny.sample(&mut rng).as_nanos() - 7) as usize] = true;
        }
        assert_eq!(seen, [true; 3], "both ends are included");
        assert_eq!(tiny.mean(), Some(Duration::from_nanos(8)));
    }

    #[test]
    fn normal_known_answer() {
        check_fidelity(
            &Dist::Normal {
                mean: ms(20),
                std_dev: ms(5),
            },
            3,
            0.01,
            0.02,
        );
    }

    #[test]
    fn truncated_normal_resamples_rather_than_clamps() {
        // Mean 2 ms, sd 3 ms: a quarter of the untruncated mass is negative.
        let d = Dist::Normal {
            mean: ms(2),
            std_dev: ms(3),
        };
        // Truncated mean 2 + 3·φ(−2/3)/(1 − Φ(−2/3)) = 3.282053 ms (clamping
        // would give 2.453359 ms).
        assert_eq!(d.mean(), Some(Duration::from_nanos(3_282_053)));
        check_fidelity(&d, 4, 0.01, 0.02);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let zeros = (0..10_000)
            .filter(|_| d.sample(&mut rng) == Duration::ZERO)
            .count();
        assert!(zeros < 5, "clamping would put ~25 % at zero, got {zeros}");
        assert_eq!(d.quantile(0.0), Some(Duration::ZERO));
    }

    #[test]
    fn lognormal_known_answer() {
        let d = Dist::LogNormal {
            mean: ms(50),
            std_dev: ms(20),
        };
        check_fidelity(&d, 5, 0.01, 0.02);
        // Median = mean / √(1 + cv²) = 50 / √1.16 ms.
        let median = d.quantile(0.5).unwrap().as_nanos() as f64;
        assert!((median - 50e6 / libm::sqrt(1.16)).abs() <= 0.5, "{median}");
    }

    #[test]
    fn exponential_known_answer() {
        let d = Dist::Exponential { mean: ms(10) };
        check_fidelity(&d, 6, 0.01, 0.02);
        // p99 = 10 ms · ln 100.
        let p99 = d.quantile(0.99).unwrap().as_nanos() as f64;
        assert!((p99 - 1e7 * libm::log(100.0)).abs() <= 0.5, "{p99}");
    }

    #[test]
    fn pareto_known_answer() {
        let d = Dist::Pareto {
            scale: ms(10),
            shape: 3.0,
        };
        check_fidelity(&d, 7, 0.015, 0.03);
        assert_eq!(d.mean(), Some(ms(15)));
        // x_m · (1 − q)^(−1/α) at q = 0.875, α = 3: 10 ms · 2.
        assert_eq!(d.quantile(0.875), Some(ms(20)));
        assert_eq!(d.quantile(0.0), Some(ms(10)));
    }

    #[test]
    fn sampling_is_pinned_bit_for_bit() {
        // These values are part of every trace hash: a change here changes
        // every run. They must not depend on the platform.
        let dists = [
            Dist::Uniform {
                min: ms(5),
                max: ms(15),
            },
            Dist::Normal {
                mean: ms(20),
                std_dev: ms(5),
            },
            Dist::LogNormal {
                mean: ms(50),
                std_dev: ms(20),
            },
            Dist::Exponential { mean: ms(10) },
            Dist::Pareto {
                scale: ms(10),
                shape: 2.5,
            },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let got: Vec<u64> = dists
            .iter()
            .map(|d| d.sample(&mut rng).as_nanos())
            .collect();
        assert_eq!(got, PINNED);
    }
    const PINNED: [u64; 5] = [11_818_962, 8_998_596, 40_765_268, 1_624_705, 11_586_913];

    #[test]
    fn heavy_tails_saturate() {
        let d = Dist::Pareto {
            scale: ms(1),
            shape: 0.01,
        };
        assert_eq!(d.sample(&mut Fixed(u64::MAX)), Dist::MAX_SAMPLE);
        assert_eq!(d.mean(), None);
        let e = Dist::Exponential { mean: ms(10) };
        assert_eq!(e.quantile(1.0), Some(Dist::MAX_SAMPLE));
        assert_eq!(e.quantile(1.5), None);
        assert_eq!(e.quantile(-0.1), None);
        assert_eq!(e.quantile(f64::NAN), None);
    }

    #[test]
    fn lower_bounds() {
        assert_eq!(Dist::Constant(ms(3)).lower_bound(), ms(3));
        assert_eq!(
            Dist::Uniform {
                min: ms(5),
                max: ms(9)
            }
            .lower_bound(),
            ms(5)
        );
        assert_eq!(
            Dist::Pareto {
                scale: ms(10),
                shape: 2.0
            }
            .lower_bound(),
            ms(10)
        );
        assert_eq!(
            Dist::Exponential { mean: ms(1) }.lower_bound(),
            Duration::ZERO
        );
    }

    #[test]
    fn validate_rejects_impossible_parameters() {
        let cases: [(Dist, &str); 8] = [
            (
                Dist::Uniform {
                    min: ms(15),
                    max: ms(5),
                },
                "min <= max",
            ),
            (
                Dist::Normal {
                    mean: ms(5),
                    std_dev: Duration::ZERO,
                },
                "std_dev must be positive",
            ),
            (
                Dist::LogNormal {
                    mean: Duration::ZERO,
                    std_dev: ms(1),
                },
                "LogNormal's mean must be positive",
            ),
            (
                Dist::Exponential {
                    mean: Duration::ZERO,
                },
                "Exponential's mean must be positive",
            ),
            (
                Dist::Pareto {
                    scale: ms(1),
                    shape: 0.0,
                },
                "positive finite",
            ),
            (
                Dist::Pareto {
                    scale: ms(1),
                    shape: f64::INFINITY,
                },
                "positive finite",
            ),
            (
                Dist::Pareto {
                    scale: Duration::ZERO,
                    shape: 2.0,
                },
                "scale must be positive",
            ),
            (
                Dist::Constant(Duration::from_secs(200 * 365 * 24 * 3600)),
                "at most 876000h",
            ),
        ];
        for (dist, expected) in cases {
            let err = dist.validate().unwrap_err();
            assert!(err.contains(expected), "{dist:?}: {err}");
        }
        for ok in [
            Dist::Constant(Duration::ZERO),
            Dist::Uniform {
                min: ms(5),
                max: ms(5),
            },
            Dist::Normal {
                mean: Duration::ZERO,
                std_dev: ms(1),
            },
            Dist::Pareto {
                scale: ms(1),
                shape: 0.5,
            },
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn ron_round_trips() {
        for (text, dist) in [
            ("Constant(\"10ms\")", Dist::Constant(ms(10))),
            (
                "Uniform(min: \"5ms\", max: \"15ms\")",
                Dist::Uniform {
                    min: ms(5),
                    max: ms(15),
                },
            ),
            (
                "Normal(mean: \"20ms\", std_dev: \"5ms\")",
                Dist::Normal {
                    mean: ms(20),
                    std_dev: ms(5),
                },
            ),
            (
                "LogNormal(mean: \"50ms\", std_dev: \"1.5s\")",
                Dist::LogNormal {
                    mean: ms(50),
                    std_dev: ms(1500),
                },
            ),
            (
                "Exponential(mean: \"250us\")",
                Dist::Exponential {
                    mean: Duration::from_micros(250),
                },
            ),
            (
                "Pareto(scale: \"10ms\", shape: 2.5)",
                Dist::Pareto {
                    scale: ms(10),
                    shape: 2.5,
                },
            ),
        ] {
            let parsed: Dist = ron::from_str(text).unwrap();
            assert_eq!(parsed, dist);
            let written = ron::to_string(&dist).unwrap();
            assert_eq!(ron::from_str::<Dist>(&written).unwrap(), dist, "{written}");
        }
    }

    #[test]
    fn ron_rejects_unknown_fields_and_missing_units() {
        let unknown = ron::from_str::<Dist>("Exponential(mean: \"1ms\", rate: 3)").unwrap_err();
        assert!(unknown.to_string().contains("rate"), "{unknown}");
        let unitless = ron::from_str::<Dist>("Constant(\"10\")").unwrap_err();
        assert!(unitless.to_string().contains("a duration"), "{unitless}");
        assert!(ron::from_str::<Dist>("Gamma(k: 2)").is_err());
    }
}
