//! Scenario errors that name the file, the line and the column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario file that cannot be run: where, and what was expected.
///
/// Displayed as `FILE:LINE:COL: message`, the form editors and terminals turn
/// into a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// Finds where in a scenario's text a semantic error belongs.
///
/// RON parsing reports positions itself; checks made after parsing (a group
/// name that does not exist, a node id out of range) only know which field and
/// value are wrong. The locator points at the first place the value's text
/// appears after the field's name, or at the field's name, or at the start of
/// the file if neither appears.
#[derive(Debug)]
pub struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl<'a> Locator<'a> {
    /// A locator over one file's text.
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Locator { file, text }
    }

    /// An error at `field` (e.g. "group") whose offending value is shown as
    /// `value` (e.g. "\"peerz\""), with the message `message`.
    pub fn error(
        &self,
        field: &str,
        value: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let offset = self.find(field, value).unwrap_or(0);
        let (line, col) = line_col(self.text, offset);
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            col,
            message: message.into(),
        }
    }

    fn find(&self, field: &str, value: Option<&str>) -> Option<usize> {
        let key = format!("{field}:");
        let field_at = self.text.find(&key).or_else(|| self.text.find(field));
        if let Some(value) = value {
            let from = field_at.unwrap_or(0);
            if let Some(i) = self.text[from..].find(value) {
                return Some(from + i);
            }
            if let Some(i) = self.text.find(value) {
                return Some(i);
            }
        }
        field_at
    }
}

/// The 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_value_after_field() {
        let text = "(\n  name: \"x\",\n  group: \"peerz\",\n)";
        let loc = Locator::new(Path::new("s.ron"), text);
        let e = loc.error("group", Some("\"peerz\""), "no group named \"peerz\"");
        assert_eq!((e.line, e.col), (3, 10));
        assert_eq!(e.to_string(), "s.ron:3:10: no group named \"peerz\"");
    }
}
