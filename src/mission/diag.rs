//! Located diagnostics: every problem in a mission file names a line, a column, the offending
//! value and, where one helps, a hint.

use std::fmt;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a mission file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, machine-readable name for the kind of problem.
    pub code: &'static str,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, (line, column): (usize, usize), message: String) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            line,
            column,
            message,
            hint: None,
        }
    }

    pub fn warning(code: &'static str, (line, column): (usize, usize), message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, (line, column), message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Formats as `file:line:column: severity: message` plus an indented hint line.
    pub fn display<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        DisplayWithFile { d: self, file }
    }
}

struct DisplayWithFile<'a> {
    d: &'a Diagnostic,
    file: &'a str,
}

impl fmt::Display for DisplayWithFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.d;
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, d.line, d.column, d.message
        )?;
        if let Some(h) = &d.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}
