//! Snippets: the part of a passage that best shows why it matched, with the query's terms marked.

use std::collections::HashSet;
use std::ops::Range;

use serde::Serialize;

use super::Analyzer;

/// An excerpt and the byte ranges in it of words that match a query term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<Range<usize>>,
}

impl Snippet {
    /// The text in order as (piece, is a query term) pairs, for whoever marks the terms up.
    pub fn pieces(&self) -> Vec<(&str, bool)> {
        let mut pieces = Vec::with_capacity(2 * self.highlights.len() + 1);
        let mut at = 0;
        for range in &self.highlights {
            pieces.push((&self.text[at..range.start], false));
            pieces.push((&self.text[range.clone()], true));
            at = range.end;
        }
        pieces.push((&self.text[at..], false));
        pieces.retain(|(piece, _)| !piece.is_empty());
        pieces
    }

    /// The text as HTML: escaped, each query term in `<mark>`.
    pub fn html(&self) -> String {
        let escape = |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        self.pieces()
            .into_iter()
            .map(|(piece, term)| if term { format!("<mark>{}</mark>", escape(piece)) } else { escape(piece) })
            .collect()
    }
}

/// At most `max_bytes` of `text` (cut at word boundaries, `…` marking a cut), placed where the
/// most distinct query terms occur, with every occurrence of a query term highlighted.
pub fn snippet(analyzer: &Analyzer, text: &str, query: &str, max_bytes: usize) -> Snippet {
    let query_terms: HashSet<String> = analyzer.analyze(query).into_iter().collect();
    let words = analyzer.analyze_spans(text);
    let matches: Vec<(Range<usize>, &str)> =
        words.iter().filter(|(_, term)| query_terms.contains(term)).map(|(span, term)| (span.clone(), term.as_str())).collect();
    // Start a little before the match that opens the window with the most distinct terms.
    let lead = max_bytes / 8;
    let best_start = matches
        .iter()
        .map(|(span, _)| {
            let start = span.start.saturating_sub(lead);
            let distinct: HashSet<&str> =
                matches.iter().filter(|(s, _)| s.start >= start && s.end <= start + max_bytes).map(|(_, t)| *t).collect();
            (distinct.len(), std::cmp::Reverse(start))
        })
        .max()
        .map_or(0, |(_, std::cmp::Reverse(start))| start);
    let start = word_boundary_at_or_after(text, best_start);
    let mut end = floor_char_boundary(text, (start + max_bytes).min(text.len()));
    if end < text.len() {
        end = text[..end].rfind(char::is_whitespace).filter(|&e| e > start).unwrap_or_else(|| floor_char_boundary(text, end));
    }
    let (prefix, suffix) = (if start > 0 { "…" } else { "" }, if end < text.len() { "…" } else { "" });
    let highlights = matches
        .iter()
        .filter(|(span, _)| span.start >= start && span.end <= end && span.start < span.end)
        .map(|(span, _)| span.start - start + prefix.len()..span.end - start + prefix.len())
        .collect();
    Snippet { text: format!("{prefix}{}{suffix}", &text[start..end]), highlights }
}

/// `at` itself if it starts the text or follows whitespace, else the start of the next word.
fn word_boundary_at_or_after(text: &str, at: usize) -> usize {
    if at == 0 {
        return 0;
    }
    let at = floor_char_boundary(text, at);
    text[at..].find(char::is_whitespace).map_or(at, |offset| {
        let after = at + offset;
        after + text[after..].find(|c: char| !c.is_whitespace()).unwrap_or(0)
    })
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_whole_with_stemmed_matches_marked() {
        let s = snippet(&Analyzer::default(), "Proteins fold while running.", "protein run", 200);
        assert_eq!(s.text, "Proteins fold while running.");
        let marked: Vec<&str> = s.highlights.iter().map(|r| &s.text[r.clone()]).collect();
        assert_eq!(marked, ["Proteins", "running"]);
        let pieces = s.pieces();
        assert_eq!(pieces, [("Proteins", true), (" fold while ", false), ("running", true), (".", false)]);
        let markup = snippet(&Analyzer::default(), "<b>Proteins</b> & folds", "protein", 200).html();
        assert_eq!(markup, "&lt;b&gt;<mark>Proteins</mark>&lt;/b&gt; &amp; folds");
    }

    #[test]
    fn long_text_is_cut_around_the_matches() {
        let text = format!("{} the vaccine trial reported antibody levels {}", "filler ".repeat(50), "tail ".repeat(50));
        let s = snippet(&Analyzer::default(), &text, "vaccine antibody", 80);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'), "{}", s.text);
        let marked: Vec<&str> = s.highlights.iter().map(|r| &s.text[r.clone()]).collect();
        assert_eq!(marked, ["vaccine", "antibody"]);
        assert!(s.text.len() <= 80 + 2 * '…'.len_utf8());
    }

    #[test]
    fn no_match_gives_the_opening() {
        let s = snippet(&Analyzer::default(), "Ünïcödé words here and more", "absent", 12);
        assert_eq!(s.text, "Ünïcödé…");
        assert!(s.highlights.is_empty());
    }
}
