//! BERT's text normalization, as `tokenizers`' `BertNormalizer` does it, step for step: control
//! characters out and whitespace to spaces, spaces around Chinese characters, accents stripped
//! (canonical decomposition, then the nonspacing marks dropped), lowercase.
//!
//! Written out for the static query encoder's word pieces, which need the normalized text and
//! not its alignments: `BertNormalizer` decomposes through an iterator that chooses canonical or
//! compatibility decomposition at run time, so it links the compatibility tables too, which BERT
//! never uses (about 64 kB of the browser's encoder worker). The character classes and the
//! canonical decomposition come from the crates and versions `tokenizers` reads.

use tokenizers::normalizers::bert::BertNormalizer;
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::{canonical_combining_class, decompose_canonical};

/// `text` as `normalizer` would leave it.
pub fn normalize(text: &str, normalizer: &BertNormalizer) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match normalizer.clean_text {
            true if c == '\0' || c == '\u{fffd}' || is_control(c) => continue,
            true if is_whitespace(c) => ' ',
            _ => c,
        };
        if normalizer.handle_chinese_chars && is_chinese_char(c) {
            cleaned.extend([' ', c, ' ']);
        } else {
            cleaned.push(c);
        }
    }
    let stripped = match normalizer.strip_accents.unwrap_or(normalizer.lowercase) {
        true => strip_accents(&cleaned),
        false => cleaned,
    };
    match normalizer.lowercase {
        true => stripped.chars().flat_map(char::to_lowercase).collect(),
        false => stripped,
    }
}

/// NFD without the nonspacing marks: each character's canonical decomposition, each run of
/// combining characters put in canonical order (a stable sort by combining class), then the
/// marks of category Mn dropped.
fn strip_accents(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A starter (class 0) and the combining characters after it; the sort keeps the starter first.
    let mut run: Vec<(u8, char)> = Vec::new();
    let flush = |run: &mut Vec<(u8, char)>, out: &mut String| {
        run.sort_by_key(|&(class, _)| class);
        out.extend(run.drain(..).map(|(_, c)| c).filter(|c| !c.is_mark_nonspacing()));
    };
    for c in text.chars() {
        decompose_canonical(c, |d| {
            let class = canonical_combining_class(d);
            if class == 0 {
                flush(&mut run, &mut out);
            }
            run.push((class, d));
        });
    }
    flush(&mut run, &mut out);
    out
}

/// Tab, newline and carriage return count as whitespace, not as control characters.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Any character of the Unicode categories C* but tab, newline and carriage return.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// The CJK ideograph blocks (not Hangul, Hiragana or Katakana, which are written with spaces).
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokenizers::{NormalizedString, Normalizer};

    fn reference(text: &str, normalizer: &BertNormalizer) -> String {
        let mut normalized = NormalizedString::from(text);
        normalizer.normalize(&mut normalized).unwrap();
        normalized.get().to_string()
    }

    fn every_setting() -> Vec<BertNormalizer> {
        let mut settings = Vec::new();
        for clean in [true, false] {
            for chinese in [true, false] {
                for strip in [None, Some(true), Some(false)] {
                    for lowercase in [true, false] {
                        settings.push(BertNormalizer::new(clean, chinese, strip, lowercase));
                    }
                }
            }
        }
        settings
    }

    #[test]
    fn as_tokenizers_on_awkward_text() {
        let texts = [
            "Café RÉSUMÉ naïve coöperate Ångström",
            "a\u{301}\u{328} e\u{328}\u{301} o\u{31b}\u{323}\u{302} \u{1d165}\u{1d16d}\u{301}\u{1d167}",
            "한국어 ᄀ각 ゔ ガ 糖尿病 𠀀 豈",
            "tab\there\u{0}nul\u{fffd}\u{200b}\u{85}\u{2028}\u{a0}x",
            "ﬁ Ⅻ ｆｕｌｌ İstanbul ΣΑΣ ǅ ß ᾼ",
            "🙂 👩‍🔬 \u{e000} \u{10ffff} \u{378}",
            "",
        ];
        for normalizer in every_setting() {
            for text in texts {
                assert_eq!(normalize(text, &normalizer), reference(text, &normalizer), "{text:?} with {normalizer:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn as_tokenizers_on_any_text(text in any::<String>(), setting in 0usize..24) {
            let normalizer = every_setting()[setting];
            prop_assert_eq!(normalize(&text, &normalizer), reference(&text, &normalizer));
        }

        #[test]
        fn as_tokenizers_on_letters_and_marks(text in "[a-zA-Z\u{300}-\u{36f}\u{1dc0}-\u{1dff}\u{591}-\u{5c7}\u{1d165}-\u{1d1ad} \u{c0}-\u{24f}\u{ac00}-\u{ac40}]{0,24}") {
            let normalizer = BertNormalizer::default();
            prop_assert_eq!(normalize(&text, &normalizer), reference(&text, &normalizer));
        }
    }
}
