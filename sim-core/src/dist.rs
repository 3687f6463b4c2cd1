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
//!
//! # The exponential ziggurat
//!
//! [`exponential_f64`] (hence [`Dist::Exponential`], Poisson arrivals and
//! every other exponential draw) uses the ziggurat method of Marsaglia and
//! Tsang ("The Ziggurat Method for Generating Random Variables", J. Stat.
//! Softw. 5(8), 2000) for f(x) = e^(−x), written from the paper's description
//! with 256 layers of equal area v:
//!
//! - the base strip (layer 0) is the rectangle [0, r] × [0, e^(−r)] plus the
//!   tail {x > r, y < e^(−x)}, so v = r·e^(−r) + e^(−r) = (r + 1)·e^(−r);
//!   it is drawn as a rectangle of virtual width x₀ = v / e^(−r);
//! - x₁ = r, f_i = e^(−x_i); layer i ≥ 1 is the rectangle [0, x_i] ×
//!   [f_i, f_{i+1}] with f_{i+1} = f_i + v / x_i (area exactly v) and
//!   x_{i+1} = −ln f_{i+1}, moved down by ulps until `libm::exp(−x_{i+1})` ≥
//!   f_{i+1}, so that any x < x_{i+1} lies under the whole layer;
//! - r is the root of f₂₅₆ = 1, r* = 7.697117470131049714… (the paper's
//!   7.69711747013104972), v* = 3.949659822581557…e-3 (the paper prints
//!   3.949659822581572e-3). We take the largest f64 below r*, for which the
//!   float recursion ends at f₂₅₆ = 1 + 1.4e-14 rather than just below 1: the
//!   top layer [0, x₂₅₅] × [f₂₅₅, f₂₅₆] then still has area v and covers the
//!   curve, the part above 1 being simply rejected; x₂₅₆ = 0.
//!
//! The tables are computed at first use (a `OnceLock`) with `libm` only, so
//! they are the same bits everywhere. A sample takes one `u64`: its low 8 bits
//! pick layer i, its top 53 bits a point x uniform in [0, x_i); x < x_{i+1} is
//! accepted at once (about 97.8 % of draws). Otherwise, in the base strip, the
//! point is in the tail, which returns r + Exp(1) (memorylessness), the Exp(1)
//! by inverse transform −ln(1 − u) with a fresh u; in a higher layer a fresh
//! uniform height y in [f_i, f_{i+1}) is drawn and x is accepted if
//! y < `libm::exp(−x)`, else everything is drawn again. Every layer has the
//! same area and the accepted points are exactly those under the curve, so the
//! result is exponential up to float rounding: each layer's area is v to
//! within about 1e-14 relative, an error below 1e-16 in any probability, and
//! x lies on a grid of 2⁻⁵³ of its layer's width (finer than 2⁻⁴⁹ everywhere
//! below r).
//!
//! Durations are rounded half up by truncation plus a comparison of the
//! (exact) fractional part with 0.5, which equals `libm::round` on the
//! non-negative values involved.

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
#[inline]
fn duration_from_nanos(ns: f64) -> Duration {
    let cap = Dist::MAX_SAMPLE.as_nanos();
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else if ns >= cap as f64 {
        Dist::MAX_SAMPLE
    } else {
        Duration::from_nanos(round_half_up(ns).min(cap))
    }
}

/// Rounds a finite `x` in `[0, 2⁶³)` to the nearest integer, ties upward:
/// exactly `libm::round` there (which breaks ties away from zero), without a
/// call. `x − trunc(x)` is exact (Sterbenz: trunc(x) ≥ x/2 once x ≥ 1), so the
/// comparison with 0.5 sees the true fractional part. The conversions go
/// through `i64`, one instruction each on x86-64, where `u64` needs several;
/// from 2⁵² on every float is an integer, so the increment cannot overflow.
#[inline]
fn round_half_up(x: f64) -> u64 {
    let whole = x as i64;
    (whole + i64::from(x - whole as f64 >= 0.5)) as u64
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

/// An exponential variate with the given mean: `mean` times a standard
/// exponential drawn by the ziggurat method (see the module docs).
///
/// One `next_u64` suffices about 97.8 % of the time; the rest draw one or a
/// few more. The result is finite and non-negative for a finite non-negative
/// `mean`, and at most (r + 53 ln 2) · mean ≈ 44.4 · mean.
pub fn exponential_f64<R: RngCore + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    mean * standard_exponential(rng)
}

/// The right edge r = x₁ of the ziggurat's base strip: the largest `f64`
/// below the exact root r* = 7.697117470131049714…, so that the table
/// recursion closes with f₂₅₆ ≥ 1 (see the module docs).
const ZIG_EXP_R: f64 = 7.697_117_470_131_049;

/// The number of layers of the exponential ziggurat.
const ZIG_LAYERS: usize = 256;

/// The exponential ziggurat's tables; see the module docs for their
/// derivation. Built once, by [`zig_exp_tables`].
struct ZigExpTables {
    /// `fast[i] = (x_i · 2⁻⁵³, x_{i+1})`: the scale from a 53-bit integer to a
    /// point of layer `i`, and the edge below which that point is accepted
    /// outright. Paired so that the common path reads one cache line.
    fast: [(f64, f64); ZIG_LAYERS],
    /// `f[i]` = e^(−x_i), the bottom of layer `i` (`f[0]` = 0 is unused and
    /// `f[256]` ≥ 1 is the top of the top layer).
    f: [f64; ZIG_LAYERS + 1],
}

/// The tables, computed at first use with `libm` only, hence bit-identical on
/// every platform.
#[inline]
fn zig_exp_tables() -> &'static ZigExpTables {
    static TABLES: std::sync::OnceLock<ZigExpTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(build_zig_exp_tables)
}

/// Builds [`ZigExpTables`] by the recursion of the module docs.
fn build_zig_exp_tables() -> ZigExpTables {
    let r = ZIG_EXP_R;
    let f_r = libm::exp(-r);
    // The area of every layer: the base rectangle r·e^(−r) plus the tail e^(−r).
    let v = (r + 1.0) * f_r;
    let mut x = [0.0; ZIG_LAYERS + 1];
    let mut f = [0.0; ZIG_LAYERS + 1];
    x[0] = v / f_r;
    x[1] = r;
    f[1] = f_r;
    for i in 1..ZIG_LAYERS {
        // Layer i spans [0, x_i] × [f_i, f_{i+1}] with area exactly v.
        f[i + 1] = f[i] + v / x[i];
        if i + 1 < ZIG_LAYERS {
            let mut edge = -libm::log(f[i + 1]);
            // Every x below the edge must lie under the whole layer,
            // e^(−x) ≥ f_{i+1}, as `libm::exp` computes it: step down by
            // ulps if rounding put the edge too far right.
            while libm::exp(-edge) < f[i + 1] {
                edge = f64::from_bits(edge.to_bits() - 1);
            }
            x[i + 1] = edge;
        }
    }
    // x[256] stays 0: the top layer has no rectangle entirely under the curve.
    let mut fast = [(0.0, 0.0); ZIG_LAYERS];
    for (i, slot) in fast.iter_mut().enumerate() {
        *slot = (x[i] * (1.0 / (1u64 << 53) as f64), x[i + 1]);
    }
    ZigExpTables { fast, f }
}

/// A standard exponential variate (mean 1) by the ziggurat method: the
/// common case inline, the rest in [`standard_exponential_slow`].
#[inline]
fn standard_exponential<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let tables = zig_exp_tables();
    let bits = rng.next_u64();
    let (i, x) = zig_exp_point(tables, bits);
    if x < tables.fast[i].1 {
        x
    } else {
        standard_exponential_slow(rng, tables, i, x)
    }
}

/// The layer `i` and the point `x` in it that one word picks: the low 8 bits
/// choose the layer, the top 53 the point.
#[inline(always)]
fn zig_exp_point(tables: &ZigExpTables, bits: u64) -> (usize, f64) {
    let i = (bits & 0xff) as usize;
    (i, (bits >> 11) as f64 * tables.fast[i].0)
}

/// The rest of [`standard_exponential`] once the point `x` of layer `i` has
/// failed the fast test: the tail, the wedge and, on rejection, new draws.
#[cold]
#[inline(never)]
fn standard_exponential_slow<R: RngCore + ?Sized>(
    rng: &mut R,
    tables: &ZigExpTables,
    mut i: usize,
    mut x: f64,
) -> f64 {
    loop {
        if i == 0 {
            // The tail beyond r: r + Exp(1) by the memoryless property, the
            // Exp(1) by inverse transform with 1 − u in [2⁻⁵³, 1].
            return ZIG_EXP_R - libm::log(1.0 - unit_f64(rng));
        }
        // The wedge: a uniform height in the layer, kept if under the curve.
        let (low, high) = (tables.f[i], tables.f[i + 1]);
        let y = low + unit_f64(rng) * (high - low);
        if y < libm::exp(-x) {
            return x;
        }
        // Rejected: start again from a new word.
        (i, x) = zig_exp_point(tables, rng.next_u64());
        if x < tables.fast[i].1 {
            return x;
        }
    }
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

    /// A generator that returns the given words in turn, then panics.
    struct Words(Vec<u64>);
    impl RngCore for Words {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            assert!(!self.0.is_empty(), "drew more words than expected");
            self.0.remove(0)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let word = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
        }
    }

    #[test]
    fn exponential_edge_draws() {
        assert_eq!(exponential_f64(&mut Fixed(0), 1.0), 0.0);
        // Layer 0, top of the strip: the tail, r + Exp(1). The Exp(1) never
        // takes the log of zero: 1 − u is at least 2⁻⁵³.
        let strip_end: u64 = !0xff;
        let mut rng = Words(vec![strip_end, 0]);
        assert_eq!(exponential_f64(&mut rng, 1.0), ZIG_EXP_R);
        let mut rng = Words(vec![strip_end, u64::MAX]);
        let top = exponential_f64(&mut rng, 1.0);
        let want = ZIG_EXP_R + 53.0 * core::f64::consts::LN_2;
        assert!((top - want).abs() < 1e-12, "{top}");
        // Just inside the base rectangle: accepted with one word.
        let t = zig_exp_tables();
        let inside = ((ZIG_EXP_R / t.fast[0].0) as u64 - 1) << 11;
        let x = exponential_f64(&mut Words(vec![inside]), 1.0);
        assert!(x < ZIG_EXP_R && x > ZIG_EXP_R - 1e-6, "{x}");
        // Top layer, top corner: the wedge rejects (y ≈ f₂₅₆ ≥ 1 > e^(−x₂₅₅))
        // and draws again; then the bottom corner (y = f₂₅₅ < e^(−x)) is kept.
        let corner = u64::MAX;
        let mut rng = Words(vec![corner, u64::MAX, 0xff | (1 << 11), 0]);
        let x = exponential_f64(&mut rng, 2.0);
        assert_eq!(x, 2.0 * t.fast[255].0);
        assert!(rng.0.is_empty());
    }

    #[test]
    fn ziggurat_tables_are_consistent() {
        let t = zig_exp_tables();
        let r = ZIG_EXP_R;
        let v = (r + 1.0) * libm::exp(-r);
        // v* = 3.949659822581557…e-3 (the paper prints 3.949659822581572e-3).
        assert!((v - 3.949_659_822_581_557e-3).abs() < 1e-17, "v = {v}");
        let x: Vec<f64> = t
            .fast
            .iter()
            .map(|&(scale, _)| scale * 2f64.powi(53))
            .collect();
        // The base strip: virtual width v / e^(−r), fast edge r.
        assert_eq!(t.fast[0].1, r);
        assert!((x[0] * t.f[1] - v).abs() <= 1e-18);
        for i in 1..ZIG_LAYERS {
            // Each layer has area v and sits on the one below.
            let area = x[i] * (t.f[i + 1] - t.f[i]);
            assert!(rel(area, v) < 1e-13, "layer {i}: area {area}");
            assert_eq!(t.fast[i - 1].1, x[i], "edge of layer {}", i - 1);
            assert!(x[i] < x[i - 1] && t.f[i + 1] > t.f[i]);
            // Everything left of the edge is under the whole layer (the top
            // layer, reaching above 1, has no such edge).
            let edge = t.fast[i].1;
            if i + 1 < ZIG_LAYERS {
                assert!(libm::exp(-edge) >= t.f[i + 1], "layer {i}");
                assert!(rel(edge, -libm::log(t.f[i + 1])) < 1e-15);
            }
        }
        // The recursion closes: the top layer reaches the curve's top.
        assert!(t.f[ZIG_LAYERS] >= 1.0 && t.f[ZIG_LAYERS] < 1.0 + 1e-13);
        assert_eq!(t.fast[ZIG_LAYERS - 1].1, 0.0);
        // The share of draws accepted by the first comparison.
        let fast = t
            .fast
            .iter()
            .map(|&(s, e)| e / (s * 2f64.powi(53)))
            .sum::<f64>()
            / 256.0;
        assert!((fast - 0.978).abs() < 0.0005, "{fast}");
    }

    #[test]
    fn exponential_matches_cdf_and_tail() {
        // Kolmogorov–Smirnov against 1 − e^(−x) with 10⁶ samples, below the
        // 1 % critical value 1.63/√n.
        let mut rng = ChaCha8Rng::seed_from_u64(61);
        let n = 1_000_000;
        let mut xs: Vec<f64> = (0..n).map(|_| exponential_f64(&mut rng, 1.0)).collect();
        assert!(xs.iter().all(|x| x.is_finite() && *x >= 0.0));
        xs.sort_unstable_by(f64::total_cmp);
        let mut d: f64 = 0.0;
        for (k, &x) in xs.iter().enumerate() {
            let cdf = -libm::expm1(-x);
            d = d.max(cdf - k as f64 / n as f64);
            d = d.max((k + 1) as f64 / n as f64 - cdf);
        }
        let critical = 1.63 / libm::sqrt(n as f64);
        assert!(d < critical, "KS statistic {d} vs {critical}");
        // The tail beyond r ≈ 7.7 (the slow path of the base strip) has the
        // right mass: P(X > 8) = e^(−8), 4·10⁶ draws, ± 4 standard deviations.
        let draws = 4_000_000;
        let beyond = (0..draws)
            .filter(|_| exponential_f64(&mut rng, 1.0) > 8.0)
            .count() as f64;
        let want = draws as f64 * libm::exp(-8.0);
        assert!(
            (beyond - want).abs() < 4.0 * libm::sqrt(want),
            "{beyond} beyond 8, want {want}"
        );
        // And the mean and variance are 1.
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
    }

    #[test]
    fn round_half_up_matches_libm_round() {
        let cap = Dist::MAX_SAMPLE.as_nanos() as f64;
        let two53 = 2f64.powi(53);
        let mut cases = vec![
            0.0,
            f64::MIN_POSITIVE,
            1e-300,
            0.25,
            0.49999999999999994,
            0.5,
            0.5000000000000001,
            0.75,
            1.0,
            1.4999999999999998,
            1.5,
            2.5,
            3.5,
            1e7 + 0.5,
            4_503_599_627_370_495.5, // 2⁵² − 0.5, the last half-integer
            4_503_599_627_370_496.0,
            two53 - 1.0,
            two53,
            two53 + 2.0,
            1e18,
            cap - 512.0,
            cap,
        ];
        for k in 0..64 {
            let p = 2f64.powi(k);
            cases.extend([p, p - 0.5, p + 0.5]);
            cases.push(f64::from_bits(p.to_bits() - 1));
            cases.push(f64::from_bits(p.to_bits() + 1));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for _ in 0..100_000 {
            // Spread over every binade below 2⁶³.
            let scale = 2f64.powi(uniform_below(&mut rng, 126) as i32 - 63);
            cases.push(unit_f64(&mut rng) * scale);
            cases.push((uniform_below(&mut rng, 1 << 20) as f64 + 0.5) * scale.min(1.0));
        }
        for x in cases
            .into_iter()
            .filter(|x| *x >= 0.0 && *x < 2f64.powi(63))
        {
            assert_eq!(round_half_up(x), libm::round(x) as u64, "{x:e}");
            // duration_from_nanos is unchanged from the libm::round version.
            let old = if x <= 0.0 {
                0
            } else if x >= cap {
                cap as u64
            } else {
                (libm::round(x) as u64).min(cap as u64)
            };
            assert_eq!(duration_from_nanos(x).as_nanos(), old, "{x:e}");
        }
        assert_eq!(duration_from_nanos(f64::NAN), Duration::ZERO);
        assert_eq!(duration_from_nanos(-0.0), Duration::ZERO);
        assert_eq!(duration_from_nanos(-2.5), Duration::ZERO);
        assert_eq!(duration_from_nanos(f64::INFINITY), Dist::MAX_SAMPLE);
        assert_eq!(duration_from_nanos(1e300), Dist::MAX_SAMPLE);
        assert_eq!(duration_from_nanos(cap - 0.5 * 512.0), Dist::MAX_SAMPLE);
        assert_eq!(duration_from_nanos(0.5), Duration::from_nanos(1));
        assert_eq!(duration_from_nanos(2.5), Duration::from_nanos(3));
        assert_eq!(duration_from_nanos(0.49999999999999994), Duration::ZERO);
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
    const PINNED: [u64; 5] = [11_818_962, 8_998_596, 40_765_268, 1_976_148, 11_586_913];

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
