//! Running a sweep: its runs in parallel on a rayon pool, each row appended
//! to `sweep.partial.csv` the moment its run ends, `sweep.csv` written once
//! every run is done.
//!
//! Runs are independent simulations, and the rows are sorted by (point,
//! replication) before `sweep.csv` is written, so the file is the same bytes
//! with any number of threads. A sweep that stops half-way (killed, out of
//! time, `max_runs`) leaves its completed rows in `sweep.partial.csv`; with
//! `resume` they are read back (a last line cut short by a crash is
//! dropped), checked against the sweep, and only the missing runs run.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::grid::{Pair, Plan};
use super::shard::Shard;
use super::table::{self, Row};
use super::{files, SweepError};
use crate::error::ScenarioError;
use crate::results::run_data;

/// How to run a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Worker threads; 0 for one per core.
    pub threads: usize,
    /// The share of the runs to run.
    pub shard: Shard,
    /// Keep the rows already in the folder and run only the missing runs.
    pub resume: bool,
    /// Stop after this many runs, as if interrupted (a later `resume` runs
    /// the rest).
    pub max_runs: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 0,
            shard: Shard::WHOLE,
            resume: false,
            max_runs: None,
        }
    }
}

/// What a sweep (or its shard) has done.
#[derive(Debug)]
pub struct Finished {
    /// Every row so far, sorted by (point, replication).
    pub rows: Vec<Row>,
    /// Runs this call ran.
    pub ran: usize,
    /// Rows found in the folder (with `resume`).
    pub resumed: usize,
    /// Runs of the shard in all.
    pub total: usize,
}

impl Finished {
    /// Whether every run of the shard is done (`sweep.csv` is then written).
    pub fn complete(&self) -> bool {
        self.rows.len() == self.total
    }
}

/// Runs the runs of `plan` (whose scenario file is `file`, with `text`)
/// that `options.shard` holds, into `dir`. `progress` is called with the
/// runs done and the shard's total, at the start and after every run.
pub fn run(
    plan: &Plan,
    file: &Path,
    text: &str,
    dir: &Path,
    options: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Finished, SweepError> {
    fs::create_dir_all(dir).map_err(|e| SweepError::io(dir, e))?;
    let partial = dir.join(files::PARTIAL);
    let mut done: BTreeMap<Pair, (Row, PathBuf)> = BTreeMap::new();
    let mut keep = 0;
    if !options.resume {
        // A fresh start: an older sweep.csv must not mix with this one.
        let csv = dir.join(files::CSV);
        if csv.exists() {
            fs::remove_file(&csv).map_err(|e| SweepError::io(&csv, e))?;
        }
    } else {
        let copy = dir.join(files::SCENARIO);
        if fs::read_to_string(&copy).is_ok_and(|old| old != text) {
            return Err(SweepError::Data(format!(
                "{} was made from another scenario file ({} differs); \
                 remove the folder or run without --resume",
                dir.display(),
                copy.display()
            )));
        }
        for source in [dir.join(files::CSV), partial.clone()] {
            let read = table::read(&source, plan)?;
            if source == partial {
                keep = read.complete;
            }
            for row in read.rows {
                let j = plan.index(row.pair);
                if !options.shard.holds(j) {
                    return Err(SweepError::Data(format!(
                        "{} holds point {} replication {}, which shard {} runs, not shard {}",
                        source.display(),
                        row.pair.point,
                        row.pair.replication,
                        Shard::of(j, options.shard.n),
                        options.shard
                    )));
                }
                super::insert_unique(&mut done, row, &source)?;
            }
        }
    }
    reports::atomic::write_atomic(&dir.join(files::SCENARIO), |w| w.write_all(text.as_bytes()))
        .map_err(|e| SweepError::io(&dir.join(files::SCENARIO), e))?;
    let sink = open_partial(&partial, plan, keep).map_err(|e| SweepError::io(&partial, e))?;

    let mine: Vec<Pair> = (0..plan.runs())
        .filter(|&j| options.shard.holds(j))
        .map(|j| plan.pair(j))
        .collect();
    let total = mine.len();
    let todo: Vec<Pair> = mine
        .into_iter()
        .filter(|p| !done.contains_key(p))
        .take(options.max_runs.unwrap_or(usize::MAX))
        .collect();
    let resumed = done.len();
    progress(resumed, total);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| SweepError::Data(format!("cannot start {} threads: {e}", options.threads)))?;
    let sink = Mutex::new((sink, Vec::with_capacity(todo.len())));
    pool.install(|| {
        todo.par_iter().try_for_each(|&pair| {
            let row = run_one(plan, pair, file, text)?;
            let line = table::encode(&row.cells);
            let mut guard = sink.lock().unwrap_or_else(PoisonError::into_inner);
            let (out, rows) = &mut *guard;
            // One write per row, straight to the file: a kill loses at most
            // the runs in flight, and a row cut short is dropped on resume.
            out.write_all(&line)
                .map_err(|e| SweepError::io(&partial, e))?;
            rows.push(row);
            progress(resumed + rows.len(), total);
            Ok::<(), SweepError>(())
        })
    })?;
    let (_, new_rows) = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
    let ran = new_rows.len();
    let mut rows: Vec<Row> = done.into_values().map(|(row, _)| row).collect();
    rows.extend(new_rows);
    rows.sort_by_key(|r| r.pair);
    let finished = Finished {
        rows,
        ran,
        resumed,
        total,
    };
    if finished.complete() {
        let csv = dir.join(files::CSV);
        table::write(&csv, plan, &finished.rows).map_err(|e| SweepError::io(&csv, e))?;
        fs::remove_file(&partial).map_err(|e| SweepError::io(&partial, e))?;
    }
    Ok(finished)
}

/// `sweep.partial.csv`, ready to append to: its first `keep` bytes (the
/// complete lines of an earlier attempt) kept, or a fresh file with the
/// header.
fn open_partial(path: &Path, plan: &Plan, keep: u64) -> std::io::Result<File> {
    if keep == 0 {
        let mut f = File::create(path)?;
        f.write_all(&table::encode(&table::header(plan)))?;
        return Ok(f);
    }
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.set_len(keep)?;
    f.seek(SeekFrom::End(0))?;
    Ok(f)
}

/// Runs one point with one replication's seed.
fn run_one(plan: &Plan, pair: Pair, file: &Path, text: &str) -> Result<Row, ScenarioError> {
    let scenario = &plan.points[pair.point].scenario;
    let outcome = crate::run::run(scenario, file, text, plan.seed(pair.replication))?;
    // The tables' copy of the scenario text is not needed for a row.
    let data = run_data(&outcome, scenario, "");
    Ok(Row::new(plan, pair, &data))
}
