//! The trainer's readers of untrusted bytes, fed random and format-like input: HTML pages in any
//! encoding and checkpoint folders. Each returns a document or an error, never a panic.

use dowse_trainer::index::{charset, html};
use dowse_trainer::train::checkpoint;
use proptest::prelude::*;

/// Pieces of real pages, so random input reaches past the first tag.
fn page_fragments() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        &b"<html>"[..],
        b"<head>",
        b"<meta charset=\"",
        b"iso-8859-1",
        b"utf-16",
        b"shift_jis",
        b"\">",
        b"<title>",
        b"</title>",
        b"<main>",
        b"<h1 id=\"a\">",
        b"<h2>",
        b"</h2>",
        b"<p>",
        b"<script>",
        b"<a name=x>",
        b"data-dowse-ignore",
        b"caf\xe9",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
        b"\xe6\x9d\xb1",
        b"&amp;",
        b"<!--",
        b" ",
        b"\n",
    ]);
    prop::collection::vec(pieces, 0..64).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn html_pages_of_any_bytes_read(bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), page_fragments()]) {
        let (text, _) = charset::decode_html(&bytes);
        let doc = html::read_page("page.html", &text).document;
        prop_assert!(!doc.title.is_empty());
    }

    #[test]
    fn checkpoint_folders_of_any_bytes_are_refused_or_read(sums in prop::collection::vec(any::<u8>(), 0..200), weights in prop::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SHA256SUMS"), &sums).unwrap();
        std::fs::write(dir.path().join("model.bin"), &weights).unwrap();
        let _ = checkpoint::read(dir.path());
    }
}
