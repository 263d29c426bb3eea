//! dowse-web: the browser app (Leptos + Trunk) arrives with its own issue. Until then this binary
//! links dowse-core's lexical path for wasm32, so CI catches anything that stops it building there.

fn main() {
    let analyzer = dowse_core::text::Analyzer::default();
    let index = dowse_core::bm25::Bm25Index::build(Default::default(), [analyzer.analyze("semantic search in the browser")]);
    assert_eq!(index.search(&analyzer.analyze("browser"), 1).len(), 1);
}
