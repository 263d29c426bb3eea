//! Every byte-offset slice in dowse-core, fed random Unicode (accents, emoji, CJK, Arabic,
//! combining marks, odd whitespace): snippets, their highlights and pieces, analyzer spans,
//! tokenizer word spans and passage cuts land on character boundaries and never panic.

use dowse_core::model::{TextMeasure, TextTokenizer};
use dowse_core::passage::{split_documents, ChunkConfig, Section, SourceDocument};
use dowse_core::text::{cap_long_words, snippet, Analyzer};
use proptest::prelude::*;

/// Characters of many widths and scripts, and the whitespace that cuts fall on.
fn unicode_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "protein",
        "café",
        "ç",
        "naïve",
        "e\u{301}",
        "\u{301}",
        "😀",
        "👩‍👩‍👧",
        "東京",
        "漢字",
        "مرحبا",
        "שלום",
        "Привет",
        "ß",
        "İ",
        " ",
        "\n",
        "\t",
        "\u{a0}",
        "\u{2003}",
        ".",
        "'s",
        "’s",
        "-",
        "\u{feff}",
        "\u{200d}",
        "🇫🇷",
    ]);
    prop::collection::vec(pieces, 0..200).prop_map(|parts| parts.concat())
}

fn student_tokenizer() -> TextTokenizer {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/student/tokenizer.json");
    TextTokenizer::from_bytes(&std::fs::read(path).expect("the shipped student's tokenizer"), 256).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn snippets_cut_on_character_boundaries(text in unicode_text(), query in unicode_text(), max_bytes in 1usize..300) {
        let analyzer = Analyzer::default();
        let s = snippet(&analyzer, &text, &query, max_bytes);
        for range in &s.highlights {
            prop_assert!(s.text.is_char_boundary(range.start) && s.text.is_char_boundary(range.end), "{range:?} in {:?}", s.text);
        }
        prop_assert_eq!(s.pieces().iter().map(|(piece, _)| *piece).collect::<String>(), s.text.clone());
    }

    #[test]
    fn analyzer_spans_are_character_ranges(text in unicode_text()) {
        for (range, _) in Analyzer::default().analyze_spans(&text) {
            prop_assert!(text.get(range.clone()).is_some(), "{range:?} in {text:?}");
        }
    }

    #[test]
    fn word_spans_and_passages_are_character_ranges(text in unicode_text(), max_tokens in 4usize..64) {
        let tokenizer = student_tokenizer();
        for span in tokenizer.word_spans(&text).unwrap() {
            prop_assert!(text.get(span.start..span.end).is_some(), "{span:?} in {text:?}");
        }
        let doc = SourceDocument {
            id: "d".into(),
            title: "Título 東京".into(),
            url: None,
            sections: vec![Section { heading: "مرحبا".into(), text: text.clone(), ..Section::default() }],
            meta: Vec::new(),
            filters: Vec::new(),
        };
        let passages = split_documents(&[doc], &tokenizer, ChunkConfig { max_tokens, overlap: max_tokens / 4 }).unwrap();
        for passage in passages {
            prop_assert!(text.contains(&passage.text));
        }
    }

    #[test]
    fn capped_words_stay_valid_text(text in unicode_text(), max in 1usize..12) {
        let (capped, _) = cap_long_words(&text, max);
        prop_assert!(capped.split_whitespace().all(|word| word.len() <= max.max(4)));
    }
}
