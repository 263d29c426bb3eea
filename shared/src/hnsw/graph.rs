//! The HNSW graph section: layers of neighbour lists over node ids 0..n, and the entry point.
//!
//! Layout (little-endian u32 throughout, so every array is 4-byte aligned): magic `DHNS`,
//! version, node count, layer count, entry point; then per layer, bottom first: member count,
//! neighbour count, members (upper layers only: layer 0 holds every node), offsets (members + 1),
//! neighbours. Every list is validated on load, so search never indexes out of bounds.

use crate::error::FormatError;

const MAGIC: &[u8; 4] = b"DHNS";
const VERSION: u32 = 1;
const SECTION: &str = "graph";

/// One layer: the nodes it holds (sorted) and each one's neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Sorted node ids; on layer 0, empty, standing for all nodes.
    members: Vec<u32>,
    /// `neighbours[offsets[i]..offsets[i + 1]]` are the neighbours of the i-th member.
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
}

impl Layer {
    /// The neighbours of `node`, or none if it is not on this layer.
    pub fn neighbours(&self, node: u32) -> &[u32] {
        let position = if self.members.is_empty() { Some(node as usize) } else { self.members.binary_search(&node).ok() };
        match position {
            Some(i) if i + 1 < self.offsets.len() => &self.neighbours[self.offsets[i] as usize..self.offsets[i + 1] as usize],
            _ => &[],
        }
    }
}

/// A layered proximity graph with its entry point on the top layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswGraph {
    num_nodes: u32,
    entry: u32,
    layers: Vec<Layer>,
}

impl HnswGraph {
    /// Builds a graph from each layer's `(node, neighbours)` lists, bottom layer first.
    /// Layer 0 must list every node of 0..num_nodes; each upper layer a subset of the one below.
    pub fn new(num_nodes: u32, entry: u32, layers: Vec<Vec<(u32, Vec<u32>)>>) -> Result<Self, FormatError> {
        let mut built = Vec::with_capacity(layers.len());
        for (level, mut lists) in layers.into_iter().enumerate() {
            lists.sort_unstable_by_key(|(node, _)| *node);
            let members: Vec<u32> = if level == 0 { Vec::new() } else { lists.iter().map(|(node, _)| *node).collect() };
            if level == 0 && lists.iter().enumerate().any(|(i, (node, _))| *node as usize != i) {
                return Err(corrupt("layer 0 must hold each node exactly once".into()));
            }
            let mut offsets = vec![0u32];
            let mut neighbours = Vec::new();
            for (_, list) in lists {
                neighbours.extend(list);
                offsets.push(neighbours.len() as u32);
            }
            built.push(Layer { members, offsets, neighbours });
        }
        let graph = Self { num_nodes, entry, layers: built };
        graph.validate()?;
        Ok(graph)
    }

    pub fn num_nodes(&self) -> usize {
        self.num_nodes as usize
    }

    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// Layers bottom first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut words = vec![u32::from_le_bytes(*MAGIC), VERSION, self.num_nodes, self.layers.len() as u32, self.entry];
        for layer in &self.layers {
            words.push((layer.offsets.len() - 1) as u32);
            words.push(layer.neighbours.len() as u32);
            words.extend(&layer.members);
            words.extend(&layer.offsets);
            words.extend(&layer.neighbours);
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(corrupt(format!("length {} is not a whole number of u32 words", bytes.len())));
        }
        let words: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let mut reader = Words { words: &words, pos: 0 };
        if reader.take(1, "magic")?[0] != u32::from_le_bytes(*MAGIC) {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let version = reader.take(1, "version")?[0];
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { section: SECTION, found: version, supported: VERSION });
        }
        let header = reader.take(3, "header")?;
        let (num_nodes, num_layers, entry) = (header[0], header[1], header[2]);
        if num_layers == 0 || num_layers > 64 {
            return Err(corrupt(format!("{num_layers} layers")));
        }
        let mut layers = Vec::with_capacity(num_layers as usize);
        for level in 0..num_layers {
            let counts = reader.take(2, "layer sizes")?;
            let (count, edges) = (counts[0] as usize, counts[1] as usize);
            if level == 0 && count != num_nodes as usize {
                return Err(corrupt(format!("layer 0 holds {count} nodes, the graph {num_nodes}")));
            }
            let members = if level == 0 { Vec::new() } else { reader.take(count, "layer members")?.to_vec() };
            let offsets = reader.take(count + 1, "offsets")?.to_vec();
            let neighbours = reader.take(edges, "neighbours")?.to_vec();
            layers.push(Layer { members, offsets, neighbours });
        }
        if reader.pos != words.len() {
            return Err(corrupt(format!("{} bytes after the last layer", 4 * (words.len() - reader.pos))));
        }
        let graph = Self { num_nodes, entry, layers };
        graph.validate()?;
        Ok(graph)
    }

    /// Checks every invariant search relies on.
    fn validate(&self) -> Result<(), FormatError> {
        if self.num_nodes == 0 {
            return Err(corrupt("the graph has no nodes".into()));
        }
        if self.layers.is_empty() || self.layers[0].offsets.len() != self.num_nodes as usize + 1 {
            return Err(corrupt(format!("layer 0 must hold all {} nodes", self.num_nodes)));
        }
        for (level, layer) in self.layers.iter().enumerate() {
            if layer.members.windows(2).any(|w| w[0] >= w[1]) {
                return Err(corrupt(format!("layer {level}: members are not sorted and unique")));
            }
            if layer.members.last().is_some_and(|&m| m >= self.num_nodes) {
                return Err(corrupt(format!("layer {level}: member out of range")));
            }
            if level > 0 && layer.members.is_empty() {
                return Err(corrupt(format!("layer {level} is empty")));
            }
            if level > 1 && layer.members.iter().any(|m| self.layers[level - 1].members.binary_search(m).is_err()) {
                return Err(corrupt(format!("layer {level}: a member is missing from the layer below")));
            }
            if layer.offsets.first() != Some(&0)
                || layer.offsets.windows(2).any(|w| w[0] > w[1])
                || layer.offsets.last().map(|&o| o as usize) != Some(layer.neighbours.len())
            {
                return Err(corrupt(format!("layer {level}: offsets do not cover the neighbour lists")));
            }
            let on_layer = |n: u32| n < self.num_nodes && (level == 0 || layer.members.binary_search(&n).is_ok());
            if let Some(bad) = layer.neighbours.iter().find(|&&n| !on_layer(n)) {
                return Err(corrupt(format!("layer {level}: neighbour {bad} is not on the layer")));
            }
        }
        let top = self.layers.last().expect("at least one layer");
        let entry_on_top =
            if self.layers.len() == 1 { self.entry < self.num_nodes } else { top.members.binary_search(&self.entry).is_ok() };
        if !entry_on_top {
            return Err(corrupt(format!("entry point {} is not on the top layer", self.entry)));
        }
        Ok(())
    }
}

fn corrupt(message: String) -> FormatError {
    FormatError::Corrupt { section: SECTION, message }
}

struct Words<'a> {
    words: &'a [u32],
    pos: usize,
}

impl<'a> Words<'a> {
    fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u32], FormatError> {
        let end = self.pos.checked_add(count).filter(|&end| end <= self.words.len());
        let end = end.ok_or(FormatError::Truncated { section: SECTION, what })?;
        let slice = &self.words[self.pos..end];
        self.pos = end;
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> HnswGraph {
        let layer0 = vec![(0, vec![1, 2]), (1, vec![0]), (2, vec![0, 1]), (3, vec![2])];
        let layer1 = vec![(2, vec![0]), (0, vec![2])];
        HnswGraph::new(4, 2, vec![layer0, layer1]).unwrap()
    }

    #[test]
    fn round_trips_and_answers_neighbours() {
        let graph = small();
        assert_eq!(HnswGraph::from_bytes(&graph.to_bytes()).unwrap(), graph);
        assert_eq!(graph.layers()[0].neighbours(2), &[0, 1]);
        assert_eq!(graph.layers()[1].neighbours(2), &[0]);
        assert!(graph.layers()[1].neighbours(3).is_empty());
    }

    #[test]
    fn rejects_every_truncation_and_bad_invariants() {
        let bytes = small().to_bytes();
        for len in 0..bytes.len() {
            assert!(HnswGraph::from_bytes(&bytes[..len]).is_err(), "truncated at {len}");
        }
        assert!(HnswGraph::new(4, 3, vec![vec![(0, vec![]), (1, vec![]), (2, vec![]), (3, vec![])], vec![(2, vec![])]]).is_err());
        assert!(HnswGraph::new(2, 0, vec![vec![(0, vec![5]), (1, vec![])]]).is_err());
        assert!(HnswGraph::new(2, 0, vec![vec![(0, vec![1])]]).is_err());
    }
}
