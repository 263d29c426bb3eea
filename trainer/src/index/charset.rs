//! HTML bytes to text in the page's own encoding, as browsers pick it: a byte-order mark first,
//! then a `<meta charset>` (or `http-equiv` Content-Type) in the first 1024 bytes, then UTF-8
//! when the bytes are valid UTF-8, else windows-1252 (the web's legacy default). Whatever could
//! not be decoded cleanly comes back as a warning for the caller to print once per page.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How far into a page a `<meta charset>` is looked for (the HTML standard's prescan).
const PRESCAN_BYTES: usize = 1024;

/// The page's text, and a warning when its encoding was guessed or some bytes were invalid.
pub fn decode_html(bytes: &[u8]) -> (String, Option<String>) {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return decode_as(encoding, &bytes[bom..], "its byte-order mark");
    }
    if let Some(encoding) = declared(&bytes[..bytes.len().min(PRESCAN_BYTES)]) {
        return decode_as(encoding, bytes, "its <meta charset>");
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => {
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), Some("not UTF-8 and no charset declared: read as windows-1252".to_string()))
        }
    }
}

fn decode_as(encoding: &'static Encoding, bytes: &[u8], source: &str) -> (String, Option<String>) {
    let (text, malformed) = encoding.decode_without_bom_handling(bytes);
    let warning = malformed.then(|| format!("bytes invalid in {} (named by {source}) were replaced", encoding.name()));
    (text.into_owned(), warning)
}

/// The encoding a `charset=` in the prescanned bytes names; an unknown label is ignored. A page
/// that declares UTF-16 in ASCII bytes is UTF-8 (the HTML standard's rule).
fn declared(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let label: Vec<u8> = lower[at..]
        .iter()
        .skip_while(|&&b| b == b'"' || b == b'\'' || b == b' ')
        .take_while(|&&b| !matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') && !b.is_ascii_whitespace())
        .copied()
        .collect();
    let encoding = Encoding::for_label(&label)?;
    Some(if encoding.output_encoding() != encoding { UTF_8 } else { encoding })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_decode_in_the_encoding_they_declare() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
        assert_eq!(decode_html(latin1), ("<html><head><meta charset=\"iso-8859-1\"></head><body>café</body></html>".to_string(), None));
        let http_equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">\x93hi\x94";
        assert!(decode_html(http_equiv).0.ends_with("\u{201c}hi\u{201d}"));
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("<p>café</p>".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode_html(&utf16), ("<p>café</p>".to_string(), None));
        assert_eq!(decode_html("<p>café</p>".as_bytes()), ("<p>café</p>".to_string(), None));
    }

    #[test]
    fn undeclared_legacy_bytes_are_read_as_windows_1252_with_a_warning() {
        let (text, warning) = decode_html(b"<p>caf\xe9</p>");
        assert_eq!(text, "<p>café</p>");
        assert!(warning.unwrap().contains("windows-1252"));
        let (_, warning) = decode_html(b"<meta charset=utf-8><p>caf\xe9</p>");
        assert!(warning.unwrap().contains("UTF-8"));
    }
}
