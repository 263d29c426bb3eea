//! Pseudo-queries: short texts cut from documents, the kind of thing people type into a search
//! box. They are what a query encoder is aligned on (`dowse distill --align-to`, `dowse index
//! --adapt`) and what `dowse index` checks a query encoder's alignment with, so no judgments and
//! no real queries are needed. From each document, seeded by its position, in turn:
//! - its title, or else a section heading;
//! - a sentence, cut to [`MAX_WORDS`] words;
//! - a fragment of two to six consecutive words of a sentence;
//! - a keyword bag: two to four distinct content words, shuffled.

use dowse_core::passage::SourceDocument;
use dowse_core::rng::SplitMix;
use dowse_core::text::is_stopword;

/// Longest pseudo-query, in words.
pub const MAX_WORDS: usize = 20;

/// Up to `per_document` pseudo-queries from each document, in document order.
pub fn cut(docs: &[SourceDocument], per_document: usize, seed: u64) -> Vec<String> {
    docs.iter().enumerate().flat_map(|(index, doc)| cut_one(doc, index, per_document, seed)).collect()
}

/// Up to `per_document` pseudo-queries from `doc`, the `index`th document: its draws depend only
/// on the seed and that position.
pub fn cut_one(doc: &SourceDocument, index: usize, per_document: usize, seed: u64) -> Vec<String> {
    let mut rng = SplitMix::at(seed, &[index as u64]);
    let text: String = doc.sections.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
    let sentences: Vec<Vec<&str>> = sentences(&text).into_iter().filter(|words| !words.is_empty()).collect();
    let heading = [doc.title.as_str()].into_iter().chain(doc.sections.iter().map(|s| s.heading.as_str())).find(|h| !h.trim().is_empty());
    let mut cuts: Vec<String> = Vec::new();
    for kind in 0..per_document {
        let cut = match kind % 4 {
            0 => heading.map(|h| first_words(h, MAX_WORDS)),
            1 => pick(&sentences, &mut rng).map(|words| words[..words.len().min(MAX_WORDS)].join(" ")),
            2 => pick(&sentences, &mut rng).map(|words| fragment(words, &mut rng)),
            _ => keywords(&sentences, &mut rng),
        };
        if let Some(cut) = cut.filter(|c| !c.trim().is_empty() && !cuts.contains(c)) {
            cuts.push(cut);
        }
    }
    cuts
}

/// Sentences as word lists: cut after `.`, `!` or `?` that ends a word.
fn sentences(text: &str) -> Vec<Vec<&str>> {
    let mut out = vec![Vec::new()];
    for word in text.split_whitespace() {
        out.last_mut().expect("never empty").push(word);
        if word.ends_with(['.', '!', '?']) {
            out.push(Vec::new());
        }
    }
    out
}

fn first_words(text: &str, n: usize) -> String {
    text.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

fn pick<'a, T>(items: &'a [T], rng: &mut SplitMix) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.below(items.len())])
}

fn fragment(words: &[&str], rng: &mut SplitMix) -> String {
    let len = (2 + rng.below(5)).min(words.len());
    let start = rng.below(words.len() - len + 1);
    words[start..start + len].join(" ").trim_matches(|c: char| c.is_ascii_punctuation()).to_string()
}

fn keywords(sentences: &[Vec<&str>], rng: &mut SplitMix) -> Option<String> {
    let mut content: Vec<String> = Vec::new();
    for word in sentences.iter().flatten() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        if word.chars().count() >= 4 && !is_stopword(&word) && !content.contains(&word) {
            content.push(word);
        }
    }
    if content.len() < 2 {
        return None;
    }
    rng.shuffle(&mut content);
    content.truncate(2 + rng.below(3));
    Some(content.join(" "))
}

#[cfg(test)]
mod tests {
    use dowse_core::passage::Section;

    use super::*;

    #[test]
    fn cuts_titles_sentences_fragments_and_keywords_reproducibly() {
        let text = "Supersonic flow over a flat plate was measured. The boundary layer thickens downstream! Heat transfer rises near the leading edge.";
        let doc = SourceDocument {
            id: "1".into(),
            title: "Boundary layers in supersonic flow".into(),
            url: None,
            sections: vec![Section { text: text.into(), ..Section::default() }],
            meta: Vec::new(),
            filters: Vec::new(),
        };
        let cuts = cut(std::slice::from_ref(&doc), 4, 7);
        assert_eq!(cuts, cut(std::slice::from_ref(&doc), 4, 7), "the same seed gives the same cuts");
        assert_eq!(cuts[0], "Boundary layers in supersonic flow");
        assert!(cuts.len() >= 3 && cuts.iter().all(|c| c.split_whitespace().count() <= MAX_WORDS), "{cuts:?}");
        assert!(
            cuts.iter().all(|c| text.contains(c) || c == &doc.title || c.split(' ').all(|w| text.to_lowercase().contains(w))),
            "{cuts:?}"
        );
        let empty =
            SourceDocument { id: "2".into(), title: String::new(), url: None, sections: Vec::new(), meta: Vec::new(), filters: Vec::new() };
        assert!(cut(&[empty], 4, 7).is_empty());
    }
}
