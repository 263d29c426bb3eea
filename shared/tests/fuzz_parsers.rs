//! Every reader, fed random bytes and mangled real-looking lines, returns Ok or an error: never a panic.

use dowse_core::corpus::*;
use proptest::prelude::*;

fn all_parsers(bytes: &[u8]) {
    let _ = read_documents_jsonl("f", bytes);
    let _ = read_queries_jsonl("f", bytes);
    let _ = read_labeled_pairs("f", bytes);
    let _ = read_id_text_tsv("f", bytes);
    let _ = read_triples_tsv("f", bytes);
    let _ = read_qrels("f", bytes);
    let _ = read_run("f", bytes);
    let _ = read_smart_records("f", bytes);
    let _ = read_smart_qrels("f", bytes, SmartGrades::Binary);
    let _ = read_smart_qrels("f", bytes, SmartGrades::detect(bytes));
}

/// Pieces of the real formats, so random input reaches past the first check.
fn format_fragments() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "{\"_id\":",
        "\"x\"",
        "\"text\":",
        "\"title\":",
        "1",
        "}",
        "{",
        "\n",
        "\t",
        " ",
        ".I ",
        ".T\n",
        ".W\n",
        ".A\n",
        "query,passage,label\n",
        ",",
        "\"",
        "Q0",
        "-1",
        "1.5",
        "\u{feff}",
        "\r\n",
        "\u{00e9}",
    ]);
    prop::collection::vec(pieces, 0..64).prop_map(|parts| parts.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        all_parsers(&bytes);
    }

    #[test]
    fn format_like_bytes(bytes in format_fragments()) {
        all_parsers(&bytes);
    }
}
