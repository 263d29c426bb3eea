//! Caps on hostile text: a "word" of megabytes (a base64 blob, a minified script pasted into a
//! page) is no word a query can match, and tokenizing it costs tens of bytes of memory per byte.

use std::borrow::Cow;

/// Longest run of non-whitespace the indexer keeps, in bytes; longer runs are cut to it. BERT's
/// word pieces give up on words over 100 characters ([UNK]), and no query types such a word.
pub const MAX_WORD_BYTES: usize = 256;

/// `text` with every whitespace-separated word longer than `max_bytes` cut to its first
/// `max_bytes` (at a character boundary, keeping at least one character), and how many words
/// were cut. Whitespace is kept as it is; text with no long word is borrowed unchanged.
pub fn cap_long_words(text: &str, max_bytes: usize) -> (Cow<'_, str>, usize) {
    let too_long = |word: &&str| word.len() > max_bytes;
    if !text.split_whitespace().any(|w| too_long(&w)) {
        return (Cow::Borrowed(text), 0);
    }
    let mut out = String::with_capacity(text.len().min(1 << 20));
    let mut cut = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let word_start = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        out.push_str(&rest[..word_start]);
        rest = &rest[word_start..];
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if too_long(&word) {
            let mut end = max_bytes;
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            let end = if end == 0 { word.chars().next().map_or(0, char::len_utf8) } else { end };
            out.push_str(&word[..end]);
            cut += 1;
        } else {
            out.push_str(word);
        }
        rest = &rest[word_end..];
    }
    (Cow::Owned(out), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_are_cut_and_the_rest_kept() {
        assert_eq!(cap_long_words("short words", 5), (Cow::Borrowed("short words"), 0));
        let (capped, cut) = cap_long_words(" abcdefgh\tab  cafébabe\n", 5);
        assert_eq!((capped.as_ref(), cut), (" abcde\tab  café\n", 2));
        assert_eq!(cap_long_words("😀😀", 2), (Cow::Owned("😀".to_string()), 1));
    }
}
