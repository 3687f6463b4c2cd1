//! Confidence intervals over replications, for sweep charts and tables.
//!
//! A sweep runs each parameter point a few times with different seeds; the
//! point's value is the mean over those replications and its uncertainty the
//! 95 % confidence interval of that mean, `mean ± t₀.₉₇₅,ₙ₋₁ · s / √n`, with `s`
//! the sample standard deviation. Student's t (not the normal 1.96) matters
//! here: with 5 replications the interval is 2.776 / 1.96 ≈ 1.4 times wider.

/// Student's t quantile t₀.₉₇₅ for 1 to 30 degrees of freedom.
const T975: [f64; 30] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
    2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
    2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
    2.048407, 2.045230, 2.042272,
];

/// Student's t quantile t₀.₉₇₅ with `df` degrees of freedom (`df ≥ 1`).
///
/// Up to 30 degrees of freedom it is read from a table (six decimals); above,
/// the Cornish–Fisher expansion around the normal quantile to 1/df⁴ is within
/// 4·10⁻⁸ of the exact value.
pub fn t_975(df: usize) -> f64 {
    assert!(df >= 1, "Student's t needs at least one degree of freedom");
    if df <= T975.len() {
        return T975[df - 1];
    }
    let z = 1.959_963_984_540_054_f64;
    let n = df as f64;
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    let g4 = (79.0 * z.powi(9) + 776.0 * z.powi(7) + 1482.0 * z.powi(5)
        - 1920.0 * z.powi(3)
        - 945.0 * z)
        / 92160.0;
    z + g1 / n + g2 / n.powi(2) + g3 / n.powi(3) + g4 / n.powi(4)
}

/// The mean of `values` and the half-width of its 95 % confidence interval,
/// `t₀.₉₇₅,ₙ₋₁ · s / √n`.
///
/// With one value the spread cannot be estimated and the half-width is NaN
/// (a chart draws no band there); with none, both are NaN. Callers drop
/// non-finite values first if a replication can fail to produce one.
///
/// ```
/// let (mean, half) = reports::charts::mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
/// assert_eq!(mean, 3.0);
/// assert!((half - 2.776445 * 0.5f64.sqrt()).abs() < 1e-9);
/// ```
pub fn mean_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t_975(n - 1) * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_replications_use_t_2_776() {
        // mean 10, s² = (4+1+0+1+4)/4 = 2.5, s/√5 = √0.5
        let (mean, half) = mean_ci95(&[8.0, 9.0, 10.0, 11.0, 12.0]);
        assert!((mean - 10.0).abs() < 1e-12);
        assert!((half - 2.776445 * 0.5f64.sqrt()).abs() < 1e-9, "{half}");
        assert!((half - 1.963243).abs() < 1e-6);
    }

    #[test]
    fn identical_values_have_zero_width_and_one_value_has_none() {
        assert_eq!(mean_ci95(&[4.0; 3]), (4.0, 0.0));
        let (mean, half) = mean_ci95(&[4.0]);
        assert_eq!(mean, 4.0);
        assert!(half.is_nan());
        let (mean, half) = mean_ci95(&[]);
        assert!(mean.is_nan() && half.is_nan());
    }

    #[test]
    fn t_quantiles_join_the_table_smoothly_and_tend_to_the_normal() {
        assert_eq!(t_975(1), 12.706205);
        assert_eq!(t_975(4), 2.776445);
        // exact values: t(31) = 2.0395134, t(60) = 2.0002978, t(1000) = 1.9623391
        assert!((t_975(31) - 2.039_513_4).abs() < 1e-6);
        assert!((t_975(60) - 2.000_297_8).abs() < 1e-6);
        assert!((t_975(1000) - 1.962_339_1).abs() < 1e-6);
        assert!(t_975(30) > t_975(31));
        assert!(t_975(1_000_000) > 1.959_96 && t_975(1_000_000) < 1.959_97);
    }
}
