//! Letter-trigram word hashing, the DSSM's tokenizer: each word, lowercased and wrapped in `#`,
//! becomes its letter trigrams (`#cat#` -> `#ca`, `cat`, `at#`); a text becomes the L2-normalised
//! counts of the trigrams its vocabulary knows. The vocabulary is a text file, one trigram a line;
//! line `i` is feature `i + 1` (feature 0 is padding).

use std::collections::HashMap;
use std::ops::Range;

use super::{ModelError, TextMeasure, WordSpan};

/// The trigrams a DSSM reads, and how many words of a text it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct TrigramVocab {
    trigrams: Vec<String>,
    ids: HashMap<String, u32>,
}

/// A text as sparse features: `(feature id, weight)`, ids ascending, weights of unit L2 norm.
pub type Features = Vec<(u32, f32)>;

impl TrigramVocab {
    /// The `max_size` most frequent trigrams of `texts` (first `max_words` words of each) seen at
    /// least `min_count` times; ties go to the smaller trigram, so the result is deterministic.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>, max_size: usize, min_count: usize, max_words: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            each_trigram(text, max_words, |trigram| *counts.entry(trigram.to_string()).or_default() += 1);
        }
        let mut frequent: Vec<(String, usize)> = counts.into_iter().filter(|&(_, n)| n >= min_count).collect();
        frequent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        frequent.truncate(max_size);
        Self::from_list(frequent.into_iter().map(|(trigram, _)| trigram).collect())
    }

    /// Reads a vocabulary file (UTF-8, one trigram a line).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ModelError::Vocab(format!("vocab.txt: not UTF-8: {e}")))?;
        let trigrams: Vec<String> = text.lines().map(str::to_string).collect();
        if let Some(line) = trigrams.iter().position(|t| t.is_empty() || t.chars().count() != 3) {
            return Err(ModelError::Vocab(format!("vocab.txt:{}: {:?} is not a letter trigram", line + 1, trigrams[line])));
        }
        let vocab = Self::from_list(trigrams);
        if vocab.ids.len() != vocab.trigrams.len() {
            return Err(ModelError::Vocab("vocab.txt: a trigram is listed twice".into()));
        }
        Ok(vocab)
    }

    fn from_list(trigrams: Vec<String>) -> Self {
        let ids = trigrams.iter().enumerate().map(|(i, t)| (t.clone(), i as u32 + 1)).collect();
        Self { trigrams, ids }
    }

    /// The vocabulary file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.trigrams.iter().flat_map(|t| [t.as_bytes(), b"\n"]).flatten().copied().collect()
    }

    /// Number of features, padding included: the rows of the DSSM's first layer.
    pub fn num_features(&self) -> usize {
        self.trigrams.len() + 1
    }

    /// The known trigrams of the first `max_words` words of `text`, counted and L2-normalised.
    pub fn features(&self, text: &str, max_words: usize) -> Features {
        let mut counts: HashMap<u32, f32> = HashMap::new();
        each_trigram(text, max_words, |trigram| {
            if let Some(&id) = self.ids.get(trigram) {
                *counts.entry(id).or_default() += 1.0;
            }
        });
        let norm = counts.values().map(|c| c * c).sum::<f32>().sqrt();
        let mut features: Features = counts.into_iter().map(|(id, c)| (id, c / norm)).collect();
        features.sort_unstable_by_key(|&(id, _)| id);
        features
    }
}

/// Calls `f` with every letter trigram of the first `max_words` words of `text`, in order.
fn each_trigram(text: &str, max_words: usize, mut f: impl FnMut(&str)) {
    let mut word = String::from("#");
    for range in word_ranges(text).take(max_words) {
        word.truncate(1);
        word.extend(text[range].chars().flat_map(char::to_lowercase));
        word.push('#');
        let starts: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
        for window in starts.windows(4) {
            f(&word[window[0]..window[3]]);
        }
    }
}

/// Byte ranges of the words of `text`: runs of letters or digits.
fn word_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.by_ref().find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            chars.next();
        }
        Some(start..end)
    })
}

/// The words a DSSM reads, one unit each, with no special tokens: how passages are cut for it.
impl TextMeasure for TrigramVocab {
    fn word_spans(&self, text: &str) -> Result<Vec<WordSpan>, ModelError> {
        Ok(word_ranges(text).map(|r| WordSpan { start: r.start, end: r.end, pieces: 1 }).collect())
    }

    fn num_special_tokens(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigrams(text: &str, max_words: usize) -> Vec<String> {
        let mut out = Vec::new();
        each_trigram(text, max_words, |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn words_are_wrapped_lowercased_and_cut_into_trigrams() {
        assert_eq!(trigrams("Cat, a DOG!", 10), ["#ca", "cat", "at#", "#a#", "#do", "dog", "og#"]);
        assert_eq!(trigrams("Über 42", 10), ["#üb", "übe", "ber", "er#", "#42", "42#"]);
        assert_eq!(trigrams("one two three", 2), ["#on", "one", "ne#", "#tw", "two", "wo#"]);
        assert!(trigrams(" ,.; ", 10).is_empty());
        assert_eq!(trigrams("a-b", 10), ["#a#", "#b#"]);
    }

    #[test]
    fn passages_are_measured_in_words() {
        let vocab = TrigramVocab::build(["x"], 10, 1, 10);
        let text = "Über, the (cat) 42";
        let spans = vocab.word_spans(text).unwrap();
        let words: Vec<&str> = spans.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(words, ["Über", "the", "cat", "42"]);
        assert!(spans.iter().all(|s| s.pieces == 1));
        assert_eq!(vocab.num_special_tokens(), 0);
    }

    #[test]
    fn the_vocabulary_keeps_the_most_frequent_and_round_trips() {
        let vocab = TrigramVocab::build(["cat cat cat", "cap", "dog"], 4, 2, 100);
        assert_eq!(vocab.trigrams, ["#ca", "at#", "cat"]);
        assert_eq!(vocab.num_features(), 4);
        assert_eq!(TrigramVocab::from_bytes(&vocab.to_bytes()).unwrap(), vocab);
        let features = vocab.features("a cat", 10);
        let third = (1.0f32 / 3.0).sqrt();
        assert_eq!(features, vec![(1, third), (2, third), (3, third)]);
    }

    #[test]
    fn a_bad_vocabulary_names_its_line() {
        let error = TrigramVocab::from_bytes(b"#ca\ncats\n").unwrap_err().to_string();
        assert!(error.contains("vocab.txt:2"), "{error}");
        assert!(TrigramVocab::from_bytes(b"#ca\n#ca\n").is_err());
    }
}
