//! Parse errors: every one names the input, the 1-based line and the field at fault.

use thiserror::Error;

/// Malformed input, located precisely enough to fix by hand.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: field `{field}`: {message}")]
pub struct ParseError {
    /// The name of the input as the caller knows it, usually a path.
    pub file: String,
    /// 1-based line number; 0 when the problem concerns the whole input.
    pub line: usize,
    /// The field (column, JSON key, SMART section) at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParseError {
    pub fn new(file: &str, line: usize, field: &str, message: impl Into<String>) -> Self {
        Self { file: file.to_string(), line, field: field.to_string(), message: message.into() }
    }
}

/// A binary section (BM25 index, later the bundle's sections) that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("{section}: not a dowse {section} section (bad magic bytes)")]
    BadMagic { section: &'static str },
    #[error("{section}: format version {found} is newer than this build supports ({supported}); upgrade dowse")]
    UnsupportedVersion { section: &'static str, found: u32, supported: u32 },
    #[error("{section}: truncated while reading {what}")]
    Truncated { section: &'static str, what: &'static str },
    #[error("{section}: corrupt: {message}")]
    Corrupt { section: &'static str, message: String },
}
