//! A sweep's grid: its points (one scenario each, every one validated before
//! anything runs), its replications and their seeds, and the (point,
//! replication) pairs that are its runs.
//!
//! A point's scenario is made by serializing the scenario as written to its
//! serde form (JSON), setting each parameter's path (see [`super::path`]) to
//! the point's value (converted from RON by `value`), and deserializing the
//! result: every field the sweep does not set keeps its value, and a value
//! of the wrong type is reported as the scenario's schema would.

use std::path::Path;

use rand::{RngCore, SeedableRng};
use serde_json::Value;
use sim_core::SimRng;

use super::path;
use super::spec::Parameter;
use super::value;
use crate::error::{line_col, Locator, ScenarioError};
use crate::schema::Scenario;

/// A sweep ready to run: its points and replications.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario as written, its `sweep` included.
    pub base: Scenario,
    /// The grid's axes, in the order written.
    pub parameters: Vec<Axis>,
    /// Runs per point.
    pub replications: u32,
    /// The points, in grid order (the first parameter varies slowest).
    pub points: Vec<Point>,
    /// The parameter on the charts' x axis (none without parameters).
    pub x: Option<usize>,
}

/// One parameter, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Its name: the `sweep.csv` column head and axis label.
    pub name: String,
    /// The fields it sets.
    pub paths: Vec<String>,
    /// Its values.
    pub levels: Vec<Level>,
}

/// One value of a parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    /// The value as written, on one line: what `sweep.csv` shows.
    pub written: String,
    /// The first number written in it (`Bernoulli(p: 0.02)`: 0.02), where
    /// a chart places it.
    pub number: Option<f64>,
    /// What each path is set to.
    json: Vec<Value>,
}

/// One point of the grid.
#[derive(Clone, Debug)]
pub struct Point {
    /// The index of each parameter's value.
    pub levels: Vec<usize>,
    /// The scenario it runs.
    pub scenario: Scenario,
}

/// One run: a point and a replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    /// The point's index.
    pub point: usize,
    /// The replication.
    pub replication: u32,
}

/// The seed of replication `replication` of a sweep of a scenario with
/// `seed`: the seed itself for replication 0 (so that replication 0 of a
/// point is `p2psim run` of that point), and for replication r > 0 the r-th
/// 64-bit word of stream 2⁶⁴ − 1 of the ChaCha8 generator seeded with `seed`
/// (a stream no run uses). It does not depend on the point: every point
/// meets the same random draws (common random numbers), so differences
/// between points come from the parameters, not from luck.
pub fn replication_seed(seed: u64, replication: u32) -> u64 {
    if replication == 0 {
        return seed;
    }
    let mut rng = SimRng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    rng.set_word_pos(2 * u128::from(replication));
    rng.next_u64()
}

impl Plan {
    /// Resolves `scenario`'s sweep (its text came from `file`): every path,
    /// value and point is checked, and every point validated like a scenario
    /// file, so a bad one fails before anything runs.
    pub fn new(scenario: &Scenario, file: &Path, text: &str) -> Result<Plan, ScenarioError> {
        let spots = Spots::new(file, text);
        let Some(spec) = &scenario.sweep else {
            return Err(spots.error(
                0,
                "no `sweep` in this scenario; add one, e.g. \
                 sweep: (parameters: [(path: \"network.link.loss\", values: [...])], replications: 3)",
            ));
        };
        if spec.replications == 0 {
            let at = spots
                .find(spots.sweep, "replications")
                .unwrap_or(spots.sweep);
            return Err(spots.error(at, "at least one replication"));
        }
        let mut plain = scenario.clone();
        plain.sweep = None;
        let base = serde_json::to_value(&plain)
            .ok()
            .filter(|v| serde_json::from_value::<Scenario>(v.clone()).ok() == Some(plain.clone()))
            .ok_or_else(|| {
                spots.error(
                    spots.sweep,
                    "this scenario does not survive its conversion to a sweep point \
                     (a value with no exact serde form, e.g. NaN)",
                )
            })?;

        let mut cursor = spots.sweep;
        let mut parameters: Vec<Axis> = Vec::with_capacity(spec.parameters.len());
        for p in &spec.parameters {
            let start = cursor;
            let axis = resolve(p, &base, &spots, &mut cursor)?;
            if let Some(clash) = reserved_name(&axis.name, &parameters) {
                let at = spots.find(start, &format!("{:?}", axis.name));
                return Err(spots.error(at.unwrap_or(start), clash));
            }
            parameters.push(axis);
        }

        let x = x_axis(spec.series.as_deref(), &parameters, &spots)?;
        let count = parameters
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.levels.len()))
            .filter(|n| n.checked_mul(spec.replications as usize).is_some())
            .ok_or_else(|| spots.error(spots.sweep, "too many points"))?;
        let points = (0..count)
            .map(|index| point(index, &parameters, &base, &spots))
            .collect::<Result<_, _>>()?;
        Ok(Plan {
            base: scenario.clone(),
            parameters,
            replications: spec.replications,
            points,
            x,
        })
    }

    /// How many runs the sweep has: points × replications.
    pub fn runs(&self) -> usize {
        self.points.len() * self.replications as usize
    }

    /// Run `j` in the order (point, replication).
    pub fn pair(&self, j: usize) -> Pair {
        let reps = self.replications as usize;
        Pair {
            point: j / reps,
            replication: (j % reps) as u32,
        }
    }

    /// The index of `pair` in the order (point, replication).
    pub fn index(&self, pair: Pair) -> usize {
        pair.point * self.replications as usize + pair.replication as usize
    }

    /// The seed of a replication (see [`replication_seed`]).
    pub fn seed(&self, replication: u32) -> u64 {
        replication_seed(self.base.seed, replication)
    }

    /// A point's values, as `name = value, …`.
    pub fn describe(&self, point: usize) -> String {
        describe(&self.parameters, &self.points[point].levels)
    }
}

/// The parameter on the charts' x axis: the first, or the second when
/// `series` names the first.
fn x_axis(
    series: Option<&str>,
    parameters: &[Axis],
    spots: &Spots<'_>,
) -> Result<Option<usize>, ScenarioError> {
    let Some(name) = series else {
        return Ok((!parameters.is_empty()).then_some(0));
    };
    let at = spots.find(spots.sweep, "series").unwrap_or(spots.sweep);
    let Some(s) = parameters.iter().position(|a| a.name == name) else {
        let names: Vec<String> = parameters.iter().map(|a| format!("{:?}", a.name)).collect();
        return Err(spots.error(
            at,
            format!(
                "`series` names no parameter: {name:?}; expected one of {}",
                if names.is_empty() {
                    "none (the sweep has no parameters)".into()
                } else {
                    names.join(", ")
                }
            ),
        ));
    };
    if parameters.len() < 2 {
        return Err(spots.error(at, "`series` needs a second parameter for the x axis"));
    }
    Ok(Some(usize::from(s == 0)))
}

/// Point `index` of the grid: its levels (the last parameter varying
/// fastest) and its scenario, validated like a scenario file.
fn point(
    index: usize,
    parameters: &[Axis],
    base: &Value,
    spots: &Spots<'_>,
) -> Result<Point, ScenarioError> {
    let mut levels = vec![0; parameters.len()];
    let mut rest = index;
    for (k, axis) in parameters.iter().enumerate().rev() {
        levels[k] = rest % axis.levels.len();
        rest /= axis.levels.len();
    }
    let mut json = base.clone();
    for (axis, &l) in parameters.iter().zip(&levels) {
        axis.apply(&mut json, l);
    }
    let about = |message: &dyn std::fmt::Display| {
        format!(
            "sweep point {index} ({}): {message}",
            describe(parameters, &levels)
        )
    };
    let scenario: Scenario =
        serde_json::from_value(json).map_err(|e| spots.error(spots.sweep, about(&e)))?;
    crate::load::validate(&scenario, &Locator::new(spots.file, spots.text)).map_err(|e| {
        ScenarioError {
            message: about(&e.message),
            ..e
        }
    })?;
    Ok(Point { levels, scenario })
}

impl Axis {
    /// Sets this parameter's paths in `json` to value `level`.
    fn apply(&self, json: &mut Value, level: usize) {
        for (path, v) in self.paths.iter().zip(&self.levels[level].json) {
            path::set(json, path, v.clone()).expect("paths are checked when resolved");
        }
    }
}

/// `name = value, …` for the given levels.
fn describe(parameters: &[Axis], levels: &[usize]) -> String {
    parameters
        .iter()
        .zip(levels)
        .map(|(a, &l)| format!("{} = {}", a.name, a.levels[l].written))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `sweep.csv` that are not parameters; a parameter may not
/// be named like one.
fn reserved_name(name: &str, earlier: &[Axis]) -> Option<String> {
    if earlier.iter().any(|a| a.name == name) {
        return Some(format!(
            "two parameters are named {name:?}; give one a different `name`"
        ));
    }
    if super::table::fixed_columns().contains(&name)
        || super::table::figure_names(super::table::Optional::ALL)
            .iter()
            .any(|f| f == name)
    {
        return Some(format!(
            "a parameter may not be named {name:?}: sweep.csv has a column of that name; \
             give it another `name`"
        ));
    }
    if name.is_empty() || name.chars().any(char::is_control) {
        return Some(format!("{name:?} is not a usable parameter name"));
    }
    None
}

/// Resolves one parameter: its paths exist in `base`, its values convert
/// and each one gives a scenario of the right types. `cursor` is where the
/// previous parameter was found in the text; it moves past this one.
fn resolve(
    p: &Parameter,
    base: &Value,
    spots: &Spots<'_>,
    cursor: &mut usize,
) -> Result<Axis, ScenarioError> {
    let paths = p.all_paths();
    let at_param = spots.find(*cursor, "values").unwrap_or(*cursor);
    if paths.is_empty() || (p.path.is_some() && !p.paths.is_empty()) {
        return Err(spots.error(
            at_param,
            "a parameter needs a `path`, or `paths` for several fields set together, not both",
        ));
    }
    // Where each path's last segment is in the text.
    let mut last_segment_at = Vec::with_capacity(paths.len());
    for path in &paths {
        let quoted = format!("{path:?}");
        let at = spots.find(*cursor, &quoted).unwrap_or(at_param);
        *cursor = at;
        // Where segment `offset` is: the path is a plain string on one line.
        let segment_at = |offset: usize| {
            if spots.text.get(at..at + quoted.len()) == Some(quoted.as_str()) {
                at + 1 + offset
            } else {
                at
            }
        };
        if let Err(e) = path::set(&mut base.clone(), path, Value::Null) {
            return Err(spots.error(
                segment_at(e.offset),
                format!("sweep path {path:?}: {}", e.message),
            ));
        }
        last_segment_at.push(segment_at(path.rfind('.').map_or(0, |i| i + 1)));
    }
    let name = p.display_name().to_string();
    if p.values.is_empty() {
        return Err(spots.error(
            spots.find(*cursor, "values").unwrap_or(*cursor),
            format!("parameter {name:?} needs at least one value"),
        ));
    }
    let mut levels = Vec::with_capacity(p.values.len());
    for raw in &p.values {
        let ron = raw.trim().get_ron();
        let at = spots.find(*cursor, ron).unwrap_or(*cursor);
        *cursor = at;
        let fail = |why: String| spots.error(at, format!("sweep value `{ron}` of {name:?}: {why}"));
        let converted = value::to_json(ron).map_err(fail)?;
        let json = if paths.len() == 1 {
            vec![converted.json]
        } else {
            match converted.json {
                Value::Array(items) if items.len() == paths.len() => items,
                _ => {
                    return Err(fail(format!(
                        "expected a list of {} values, one for each of `paths`",
                        paths.len()
                    )))
                }
            }
        };
        let mut scenario = base.clone();
        for (path, v) in paths.iter().zip(&json) {
            path::set(&mut scenario, path, v.clone()).expect("the path was checked");
        }
        if let Err(e) = serde_json::from_value::<Scenario>(scenario) {
            let e = e.to_string();
            // A field the schema does not have is the path's fault, not the value's.
            for (path, &at) in paths.iter().zip(&last_segment_at) {
                let field = &path[path.rfind('.').map_or(0, |i| i + 1)..];
                if e.starts_with(&format!("unknown field `{field}`")) {
                    return Err(spots.error(at, format!("sweep path {path:?}: {e}")));
                }
            }
            return Err(fail(e));
        }
        levels.push(Level {
            written: ron.split_whitespace().collect::<Vec<_>>().join(" "),
            number: converted.first_number,
            json,
        });
    }
    Ok(Axis {
        name,
        paths: paths.into_iter().map(String::from).collect(),
        levels,
    })
}

/// Positions in a scenario file's text, for errors about its sweep.
struct Spots<'a> {
    file: &'a Path,
    text: &'a str,
    /// Where the `sweep:` field starts (0 if it cannot be found).
    sweep: usize,
}

impl<'a> Spots<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        let sweep = text
            .match_indices("sweep")
            .map(|(i, _)| i)
            .find(|&i| {
                let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                !text[line_start..i].contains("//")
                    && text[i + "sweep".len()..].trim_start().starts_with(':')
            })
            .unwrap_or(0);
        Spots { file, text, sweep }
    }

    /// The first `needle` at or after `from`.
    fn find(&self, from: usize, needle: &str) -> Option<usize> {
        self.text.get(from..)?.find(needle).map(|i| from + i)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, offset);
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            col,
            message: message.into(),
        }
    }
}
