//! Charts of a run (and of sweeps), as SVG and PNG files.

/// One chart, written as `<name>.svg` and `<name>.png` in the run's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// The file stem, e.g. `latency_cdf`.
    pub name: &'static str,
    /// The chart's title, as drawn on it.
    pub title: String,
    /// The SVG document, for inlining into report.html.
    pub svg: String,
}
