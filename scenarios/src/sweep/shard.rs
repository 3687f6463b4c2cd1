//! Shards: one N-th of a sweep's runs, for spreading a sweep over the
//! machines of a batch scheduler, and merging their folders back into one.
//!
//! Run j, in the order (point, replication) — j = point × replications +
//! replication — belongs to shard (j mod N) + 1, so consecutive runs of a
//! point go to different shards and every shard gets a similar mix of
//! points. A shard's folder holds its `sweep.csv` (its rows only) and
//! `scenario.ron`; [`merge`] checks that every folder comes from the same
//! scenario file, joins their rows (a run found twice must have identical
//! rows and is kept once), reports every missing run, and writes the whole
//! sweep's `sweep.csv`, charts and report, the same bytes an unsharded sweep
//! writes.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use reports::atomic::write_atomic;

use super::grid::{Pair, Plan};
use super::table::{self, Row};
use super::{files, SweepError};

/// Shard `k` of `n` (1 ≤ k ≤ n), written `K/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub k: usize,
    /// How many shards.
    pub n: usize,
}

impl Shard {
    /// The whole sweep: shard 1 of 1.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// The shard of `n` that run `j` belongs to.
    pub fn of(j: usize, n: usize) -> Shard {
        Shard { k: j % n + 1, n }
    }

    /// Whether run `j` (in the order (point, replication)) is this shard's.
    pub fn holds(&self, j: usize) -> bool {
        j % self.n + 1 == self.k
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((k, n)) if n >= 1 && (1..=n).contains(&k) => Ok(Shard { k, n }),
            _ => Err(format!(
                "expected K/N with 1 <= K <= N (shard K of N), e.g. 3/8; not {s:?}"
            )),
        }
    }
}

/// What [`merge`] did.
#[derive(Debug)]
pub struct Merged {
    /// Runs in the merged sweep.
    pub runs: usize,
    /// Rows found more than once (identical, kept once).
    pub duplicates: usize,
    /// The merged sweep's `report.html`.
    pub report: PathBuf,
}

/// Joins the rows of the shard folders `dirs` into one sweep in `out`:
/// `sweep.csv`, `scenario.ron`, the charts and `report.html`. Fails, writing
/// nothing, on folders of different scenario files, conflicting rows or
/// missing runs; `version` is shown in the report.
pub fn merge(out: &Path, dirs: &[PathBuf], version: &str) -> Result<Merged, SweepError> {
    let first = dirs
        .first()
        .ok_or_else(|| SweepError::Data("no shard folders to merge".into()))?;
    let scenario_of = |dir: &Path| {
        let path = dir.join(files::SCENARIO);
        fs::read_to_string(&path).map_err(|e| {
            SweepError::Data(format!(
                "{}: {e}; is {} the output folder of `p2psim sweep`?",
                path.display(),
                dir.display()
            ))
        })
    };
    let text = scenario_of(first)?;
    for dir in &dirs[1..] {
        if scenario_of(dir)? != text {
            return Err(SweepError::Data(format!(
                "{} and {} are sweeps of different scenario files",
                first.display(),
                dir.display()
            )));
        }
    }
    let file = first.join(files::SCENARIO);
    let scenario = crate::load::parse(&file, &text)?;
    let plan = Plan::new(&scenario, &file, &text)?;

    let mut found: BTreeMap<Pair, (Row, PathBuf)> = BTreeMap::new();
    let mut duplicates = 0;
    for dir in dirs {
        let csv = dir.join(files::CSV);
        if !csv.exists() {
            return Err(SweepError::Data(format!(
                "{} has no {}: its sweep has not finished; run it again with --resume",
                dir.display(),
                files::CSV
            )));
        }
        for row in table::read(&csv, &plan)?.rows {
            duplicates += usize::from(super::insert_unique(&mut found, row, &csv)?);
        }
    }
    let missing: Vec<Pair> = (0..plan.runs())
        .map(|j| plan.pair(j))
        .filter(|p| !found.contains_key(p))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing
            .iter()
            .take(10)
            .map(|p| format!("point {} replication {}", p.point, p.replication))
            .collect();
        return Err(SweepError::Data(format!(
            "{} of the sweep's {} runs are in none of the folders: {}{}",
            missing.len(),
            plan.runs(),
            shown.join(", "),
            if missing.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )));
    }
    let rows: Vec<Row> = found.into_values().map(|(row, _)| row).collect();
    fs::create_dir_all(out).map_err(|e| SweepError::io(out, e))?;
    let copy = out.join(files::SCENARIO);
    write_atomic(&copy, |w| w.write_all(text.as_bytes())).map_err(|e| SweepError::io(&copy, e))?;
    let csv = out.join(files::CSV);
    table::write(&csv, &plan, &rows).map_err(|e| SweepError::io(&csv, e))?;
    let report = super::publish::publish(&plan, &text, &rows, out, version)?;
    Ok(Merged {
        runs: rows.len(),
        duplicates,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_assigns_round_robin() {
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { k: 3, n: 8 }));
        for bad in ["0/8", "9/8", "1/0", "3", "a/b", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let s: Shard = "2/3".parse().unwrap();
        let mine: Vec<usize> = (0..10).filter(|&j| s.holds(j)).collect();
        assert_eq!(mine, [1, 4, 7]);
        assert_eq!(Shard::of(7, 3), s);
        assert_eq!(s.to_string(), "2/3");
        // every run belongs to exactly one shard
        for j in 0..50 {
            let owners = (1..=4).filter(|&k| Shard { k, n: 4 }.holds(j)).count();
            assert_eq!(owners, 1);
        }
    }
}
