//! Splits raw bytes into numbered UTF-8 lines, so every reader reports the line it failed on.

use crate::error::ParseError;

/// One line of input: its 1-based number and its text without the line ending.
pub struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// Yields the lines of `bytes` (LF or CRLF endings, a leading UTF-8 BOM dropped).
/// A line that is not valid UTF-8 is an error naming `file` and the line.
pub fn lines<'a>(file: &'a str, bytes: &'a [u8]) -> impl Iterator<Item = Result<Line<'a>, ParseError>> + 'a {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let trailing_newline = bytes.last() == Some(&b'\n');
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if trailing_newline || bytes.is_empty() {
        pieces.pop();
    }
    pieces.into_iter().enumerate().map(move |(i, raw)| {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        std::str::from_utf8(raw)
            .map(|text| Line { number: i + 1, text })
            .map_err(|e| ParseError::new(file, i + 1, "line", format!("invalid UTF-8 at byte {}", e.valid_up_to())))
    })
}

/// Splits a line into exactly `names.len()` tab-separated fields, naming the first missing one.
pub fn tab_fields<'a>(file: &str, line: &Line<'a>, names: &[&str]) -> Result<Vec<&'a str>, ParseError> {
    let fields: Vec<&str> = line.text.splitn(names.len(), '\t').collect();
    if fields.len() < names.len() {
        return Err(ParseError::new(
            file,
            line.number,
            names[fields.len()],
            format!("missing: expected {} tab-separated fields ({})", names.len(), names.join(", ")),
        ));
    }
    Ok(fields)
}
