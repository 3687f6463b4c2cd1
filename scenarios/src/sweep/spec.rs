//! What a scenario's `sweep:` field may say.

use ron::value::RawValue;
use serde::{Deserialize, Serialize};

/// A sweep: the grid of parameter values to run, and how many times.
///
/// ```ron
/// sweep: (
///     parameters: [
///         (path: "groups.0.protocol.Gossip.config.d", values: [4, 6, 8]),
///         (path: "network.link.loss", name: "loss",
///          values: [Bernoulli(p: 0.0), Bernoulli(p: 0.02)]),
///     ],
///     replications: 5,
/// )
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The parameters. The grid's points are every combination of their
    /// values, the first parameter varying slowest; no parameters is one
    /// point, the scenario as written.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Runs of every point (default 1). Replication 0 runs with the
    /// scenario's seed, replication r with a seed derived from it and r,
    /// the same at every point.
    #[serde(default = "one")]
    pub replications: u32,
    /// The parameter whose values draw separate lines in the charts, by
    /// name. The x axis is the first parameter, or the second when this
    /// names the first; every parameter but the x axis's draws lines.
    #[serde(default)]
    pub series: Option<String>,
}

fn one() -> u32 {
    1
}

/// One axis of the grid: the field or fields it sets, and their values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// The field this parameter sets (see [`super::path`] for the syntax);
    /// give this or `paths`.
    #[serde(default)]
    pub path: Option<String>,
    /// Fields set together, e.g. GossipSub's `d`, `d_low` and `d_high`: each
    /// value is then a list with one entry per path, in order.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The column head in `sweep.csv` and the axis label (default: the path,
    /// or the first of `paths`).
    #[serde(default)]
    pub name: Option<String>,
    /// The values, written as in a scenario file: `4`, `"250ms"`,
    /// `Bernoulli(p: 0.02)`, `[4, 3, 8]`.
    pub values: Vec<Box<RawValue>>,
}

impl Parameter {
    /// The paths it sets, `path` or `paths`.
    pub fn all_paths(&self) -> Vec<&str> {
        self.path
            .iter()
            .chain(&self.paths)
            .map(String::as_str)
            .collect()
    }

    /// Its name: `name`, else its first path.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.path.as_deref())
            .or(self.paths.first().map(String::as_str))
            .unwrap_or("")
    }
}
