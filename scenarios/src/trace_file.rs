//! `--trace FILE`: the ordered event log as CSV, written as the run goes and
//! renamed into place only when complete.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use sim_core::{TraceRecord, TraceSink};

type Writer = csv::Writer<BufWriter<File>>;

/// The header of a trace file.
pub const HEADER: [&str; 6] = ["time_ns", "node", "kind", "peer", "size", "cause"];

/// A trace file being written. Rows go to `FILE.tmp`; [`TraceFile::finish`]
/// flushes it and renames it to `FILE`, so a run that fails leaves no half
/// file under the real name.
#[derive(Debug)]
pub struct TraceFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Rc<RefCell<Writer>>,
    error: Rc<RefCell<Option<io::Error>>>,
}

impl TraceFile {
    /// Starts a trace file at `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut name = path
            .file_name()
            .ok_or_else(|| io::Error::other("the trace path has no file name"))?
            .to_os_string();
        name.push(".tmp");
        let tmp = path.with_file_name(name);
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(&tmp)?));
        writer.write_record(HEADER)?;
        Ok(TraceFile {
            path: path.to_path_buf(),
            tmp,
            writer: Rc::new(RefCell::new(writer)),
            error: Rc::default(),
        })
    }

    /// The sink to give the simulation: it appends one row per record and
    /// keeps the first write error for [`TraceFile::finish`] to report.
    pub fn sink(&self) -> TraceSink {
        let writer = Rc::clone(&self.writer);
        let error = Rc::clone(&self.error);
        Box::new(move |r: &TraceRecord| {
            if error.borrow().is_some() {
                return;
            }
            let row = [
                r.time.as_nanos().to_string(),
                r.node.0.to_string(),
                r.kind.name().to_string(),
                r.peer.map(|p| p.0.to_string()).unwrap_or_default(),
                r.size.to_string(),
                r.cause.map(|c| c.name().to_string()).unwrap_or_default(),
            ];
            if let Err(e) = writer.borrow_mut().write_record(&row) {
                *error.borrow_mut() = Some(e.into());
            }
        })
    }

    /// Flushes the file and moves it into place; reports the first error.
    pub fn finish(self) -> io::Result<()> {
        let result = (|| {
            if let Some(e) = self.error.borrow_mut().take() {
                return Err(e);
            }
            self.writer.borrow_mut().flush()?;
            std::fs::rename(&self.tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}
