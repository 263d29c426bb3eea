//! Splits raw bytes into numbered UTF-8 lines, so every reader reports the line it failed on.

use crate::error::ParseError;

/// One line of input: its 1-based number and its text without the line ending.
pub struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// Longest line any reader takes: a record longer than this is no document or query a person
/// wrote, and parsing it (a JSON object, say) costs a multiple of its size in memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Yields the lines of `bytes` (LF or CRLF endings, a leading UTF-8 BOM dropped).
/// A line that is not valid UTF-8, or longer than [`MAX_LINE_BYTES`], is an error naming `file`
/// and the line.
pub fn lines<'a>(file: &'a str, bytes: &'a [u8]) -> impl Iterator<Item = Result<Line<'a>, ParseError>> + 'a {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let trailing_newline = bytes.last() == Some(&b'\n');
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if trailing_newline || bytes.is_empty() {
        pieces.pop();
    }
    pieces.into_iter().enumerate().map(move |(i, raw)| {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > MAX_LINE_BYTES {
            return Err(ParseError::new(file, i + 1, "line", format!("{} bytes, longer than the {MAX_LINE_BYTES}-byte limit", raw.len())));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_limit_is_named_not_parsed() {
        let mut bytes = b"short\n".to_vec();
        bytes.resize(bytes.len() + MAX_LINE_BYTES + 1, b'x');
        let read: Vec<_> = lines("big.jsonl", &bytes).collect();
        assert_eq!(read[0].as_ref().unwrap().text, "short");
        let error = read[1].as_ref().err().unwrap().to_string();
        assert!(error.starts_with("big.jsonl:2: field `line`") && error.contains("longer than the"), "{error}");
    }
}
