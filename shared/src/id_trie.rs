//! The valid semantic IDs ([`crate::semantic_ids`]) as a prefix trie, and beam search constrained
//! to it: a generative retriever's decoder scores the next digit of every live prefix, and only
//! digits that continue some document's ID are followed, so every result is a real document.
//! The decoder is a closure (`next`), so the search is the same on any backend, or on a table of
//! scores in a test.

use crate::topk::top_k;

/// The trie of a table of IDs (no ID a prefix of another).
#[derive(Debug, Clone)]
pub struct IdTrie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// (digit, child node), ascending by digit.
    children: Vec<(u16, u32)>,
    /// The document whose ID ends here.
    doc: Option<u32>,
}

/// A prefix being decoded: its digits, its trie node and its summed score.
#[derive(Debug, Clone)]
struct Beam {
    digits: Vec<u16>,
    node: u32,
    score: f32,
}

impl IdTrie {
    /// The trie of `ids`, document `i` the owner of `ids[i]`.
    pub fn new(ids: &[Vec<u16>]) -> Self {
        let mut nodes = vec![Node::default()];
        for (doc, id) in ids.iter().enumerate() {
            let mut at = 0usize;
            for &digit in id {
                at = match nodes[at].children.binary_search_by_key(&digit, |&(d, _)| d) {
                    Ok(i) => nodes[at].children[i].1 as usize,
                    Err(i) => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[at].children.insert(i, (digit, child as u32));
                        child
                    }
                };
            }
            nodes[at].doc = Some(doc as u32);
        }
        Self { nodes }
    }

    /// The digits that continue `prefix` towards some ID (none if `prefix` leads nowhere).
    pub fn next_digits(&self, prefix: &[u16]) -> Vec<u16> {
        self.walk(prefix).map_or_else(Vec::new, |node| self.nodes[node].children.iter().map(|&(d, _)| d).collect())
    }

    /// The document whose whole ID is `id`.
    pub fn doc(&self, id: &[u16]) -> Option<u32> {
        self.walk(id).and_then(|node| self.nodes[node].doc)
    }

    fn walk(&self, prefix: &[u16]) -> Option<usize> {
        prefix.iter().try_fold(0usize, |at, &digit| {
            let children = &self.nodes[at].children;
            children.binary_search_by_key(&digit, |&(d, _)| d).ok().map(|i| children[i].1 as usize)
        })
    }

    /// The `k` best documents by the summed score of their IDs' digits, best first, keeping
    /// the `width` best prefixes (at least `k`) at every step. `next` takes the live prefixes
    /// and gives, for each, a score per digit value: a decoder's log-probabilities, at most 0, so
    /// a prefix's score only falls as it grows and the search stops once `k` results beat every
    /// live prefix. Only digits the trie allows are read. A prefix that completes an ID leaves
    /// the beam as a result.
    pub fn beam_search<E>(
        &self,
        width: usize,
        k: usize,
        mut next: impl FnMut(&[Vec<u16>]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Result<Vec<(u32, f32)>, E> {
        let width = width.max(k);
        let mut live = vec![Beam { digits: Vec::new(), node: 0, score: 0.0 }];
        let mut done: Vec<(u32, f32)> = Vec::new();
        while !live.is_empty() {
            let prefixes: Vec<Vec<u16>> = live.iter().map(|b| b.digits.clone()).collect();
            let scores = next(&prefixes)?;
            let mut grown = Vec::new();
            for (beam, scores) in live.iter().zip(&scores) {
                for &(digit, child) in &self.nodes[beam.node as usize].children {
                    let score = beam.score + scores.get(digit as usize).copied().unwrap_or(f32::NEG_INFINITY);
                    grown.push((grown.len() as u32, score, digit, child, beam));
                }
            }
            let kept = top_k(grown.iter().map(|&(i, score, ..)| (i, score)), width);
            let mut next_live = Vec::with_capacity(kept.len());
            for (i, score) in kept {
                let (_, _, digit, child, beam) = grown[i as usize];
                match self.nodes[child as usize].doc {
                    Some(doc) => done.push((doc, score)),
                    None => next_live.push(Beam { digits: beam.digits.iter().copied().chain([digit]).collect(), node: child, score }),
                }
            }
            let best_live = next_live.iter().map(|b| b.score).fold(f32::NEG_INFINITY, f32::max);
            let results = top_k(done.iter().copied(), k);
            if results.len() == k && results.last().is_some_and(|&(_, s)| s >= best_live) {
                return Ok(results);
            }
            live = next_live;
        }
        Ok(top_k(done, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<Vec<u16>> {
        vec![vec![0, 0], vec![0, 1], vec![1, 0, 0], vec![1, 0, 1], vec![2]]
    }

    /// log-probabilities from a fixed table: `prefs[prefix]` favours one digit.
    fn scores(prefix: &[u16]) -> Vec<f32> {
        let favourite = match prefix {
            [] => 1,
            [1] | [1, 0] => 0,
            _ => 1,
        };
        (0..3).map(|d| if d == favourite { -0.1 } else { -2.0 }).collect()
    }

    #[test]
    fn the_trie_knows_every_id_and_nothing_else() {
        let trie = IdTrie::new(&ids());
        for (doc, id) in ids().iter().enumerate() {
            assert_eq!(trie.doc(id), Some(doc as u32));
        }
        assert_eq!(trie.doc(&[1, 0]), None, "a prefix is no document");
        assert_eq!(trie.doc(&[3]), None);
        assert_eq!(trie.next_digits(&[]), vec![0, 1, 2]);
        assert_eq!(trie.next_digits(&[1]), vec![0]);
        assert!(trie.next_digits(&[2]).is_empty() && trie.next_digits(&[7]).is_empty());
    }

    #[test]
    fn beam_search_follows_the_scores_and_returns_only_real_documents() {
        let trie = IdTrie::new(&ids());
        let search = |width, k| trie.beam_search(width, k, |prefixes| Ok::<_, ()>(prefixes.iter().map(|p| scores(p)).collect())).unwrap();
        let best = search(4, 5);
        assert_eq!(best[0].0, 2, "1 -> 0 -> 0 is the favourite path: document 2");
        assert!((best[0].1 - -0.3).abs() < 1e-6);
        let mut docs: Vec<u32> = best.iter().map(|&(d, _)| d).collect();
        docs.sort_unstable();
        assert_eq!(docs, vec![0, 1, 2, 3, 4], "with room for all, every document comes back once");
        assert!(best.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        assert_eq!(search(1, 1), vec![(2, best[0].1)]);
    }

    #[test]
    fn a_decoder_that_favours_invalid_digits_still_yields_valid_documents() {
        let trie = IdTrie::new(&ids());
        let favour_9 = |prefixes: &[Vec<u16>]| {
            Ok::<_, ()>(prefixes.iter().map(|_| (0..10).map(|d| if d == 9 { 0.0 } else { -5.0 }).collect()).collect())
        };
        let found = trie.beam_search(2, 3, favour_9).unwrap();
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|&(doc, _)| (doc as usize) < ids().len()));
    }

    #[test]
    fn an_empty_table_finds_nothing_and_errors_pass_through() {
        let empty = IdTrie::new(&[]);
        assert!(empty.beam_search(4, 4, |p| Ok::<_, ()>(vec![vec![0.0]; p.len()])).unwrap().is_empty());
        let trie = IdTrie::new(&ids());
        assert_eq!(trie.beam_search(4, 4, |_| Err("decoder failed")), Err("decoder failed"));
    }
}
