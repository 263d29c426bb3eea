//! Building an ONNX graph: operators with fresh output names, initializers, and the layers the
//! exported networks share: linear layers in f32 or dynamically quantized to int8 (the input
//! quantized per call with one scale per token, the weight's int8 codes with one scale per
//! output column, so dowse's int8 rows carry over as they are; `MatMulInteger` multiplies them),
//! layer norm, and the masked mean + unit length that make a sentence embedding.

use anyhow::{bail, Context, Result};
use safetensors::{Dtype, SafeTensors};

use super::proto::{
    attribute_type, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};

/// The ONNX operator set the graphs are written for (17: the first with `LayerNormalization`).
pub const OPSET: i64 = 17;
/// The IR version that goes with [`OPSET`].
const IR_VERSION: i64 = 8;

/// A model's weights: as f32 tensors (int8 files dequantized), and for a quantized graph as
/// dowse's int8 rows too (f32 files quantized as `dowse distill --int8` does).
pub struct Weights<'a> {
    pub floats: SafeTensors<'a>,
    pub codes: Option<SafeTensors<'a>>,
}

impl Weights<'_> {
    /// The f32 tensor `name`: its shape and row-major values.
    pub fn floats(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let tensor = self.floats.tensor(name).with_context(|| format!("model.safetensors: no tensor `{name}`"))?;
        if tensor.dtype() != Dtype::F32 {
            bail!("model.safetensors: tensor `{name}` is {:?}, not F32", tensor.dtype());
        }
        Ok((tensor.shape().to_vec(), tensor.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect()))
    }

    /// The int8 matrix `name`: its shape, codes and one scale per row.
    fn codes(&self, name: &str) -> Result<(Vec<usize>, Vec<i8>, Vec<f32>)> {
        let codes = self.codes.as_ref().context("an int8 graph needs the int8 weights")?;
        let tensor = codes.tensor(name).with_context(|| format!("model.safetensors: no tensor `{name}` to quantize"))?;
        if tensor.dtype() != Dtype::I8 {
            bail!("model.safetensors: tensor `{name}` did not quantize to int8 (it is {:?})", tensor.dtype());
        }
        let scales = codes.tensor(&format!("{name}.int8_scale")).with_context(|| format!("model.safetensors: no scales for `{name}`"))?;
        let values = tensor.data().iter().map(|&b| b as i8).collect();
        let scales = scales.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        Ok((tensor.shape().to_vec(), values, scales))
    }
}

/// The size of one axis of an input or output: fixed, or named (batch, sequence).
pub enum Dim {
    Fixed(usize),
    Named(&'static str),
}

/// A graph under construction. With `int8`, linear layers and tables are written quantized.
pub struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next: usize,
    int8: bool,
}

impl Graph {
    pub fn new(int8: bool) -> Self {
        Self { nodes: Vec::new(), initializers: Vec::new(), next: 0, int8 }
    }

    /// Adds operator `op` with one output, named afresh, and returns that name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let name = format!("{op}_{}", self.next);
        self.next += 1;
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|i| i.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.into(),
            attribute: attributes,
        });
        name
    }

    /// Gives the value `value` the graph output name `name` (an Identity).
    pub fn output(&mut self, value: &str, name: &str) {
        self.nodes.push(NodeProto {
            input: vec![value.into()],
            output: vec![name.into()],
            name: format!("{name}_output"),
            op_type: "Identity".into(),
            attribute: Vec::new(),
        });
    }

    /// Adds an initializer, once per name: a constant asked for twice is the same tensor.
    fn initializer(&mut self, name: &str, shape: &[usize], data_type: i32, raw_data: Vec<u8>) -> String {
        if self.initializers.iter().any(|t| t.name == name) {
            return name.into();
        }
        let dims = shape.iter().map(|&d| d as i64).collect();
        self.initializers.push(TensorProto { dims, data_type, name: name.into(), raw_data });
        name.into()
    }

    /// A float initializer (`shape` empty for a scalar).
    pub fn floats(&mut self, name: &str, shape: &[usize], values: &[f32]) -> String {
        self.initializer(name, shape, data_type::FLOAT, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// An int64 initializer (`shape` empty for a scalar).
    pub fn int64s(&mut self, name: &str, shape: &[usize], values: &[i64]) -> String {
        self.initializer(name, shape, data_type::INT64, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn int8s(&mut self, name: &str, shape: &[usize], values: &[i8]) -> String {
        self.initializer(name, shape, data_type::INT8, values.iter().map(|&v| v as u8).collect())
    }

    /// The matrix `name` of `weights` as a float value: as it is, or (int8) its codes and row
    /// scales dequantized by the graph (`DequantizeLinear` along axis 0).
    pub fn matrix(&mut self, weights: &Weights, name: &str) -> Result<String> {
        if !self.int8 {
            let (shape, values) = weights.floats(name)?;
            return Ok(self.floats(name, &shape, &values));
        }
        let (shape, codes, scales) = weights.codes(name)?;
        let codes = self.int8s(&format!("{name}.int8"), &shape, &codes);
        let scales = self.floats(&format!("{name}.int8_scale"), &[shape[0]], &scales);
        let zero = self.int8s(&format!("{name}.int8_zero"), &[shape[0]], &vec![0; shape[0]]);
        Ok(self.op("DequantizeLinear", &[&codes, &scales, &zero], vec![int("axis", 0)]))
    }

    /// A PyTorch linear layer `name` (`weight` `[out, in]`, `bias` `[out]`) applied to `x`
    /// `[..., in]`; with int8, as a dynamically quantized MatMul.
    pub fn linear(&mut self, weights: &Weights, name: &str, x: &str) -> Result<String> {
        let weight = format!("{name}.weight");
        let (_, bias) = weights.floats(&format!("{name}.bias"))?;
        let bias = self.floats(&format!("{name}.bias"), &[bias.len()], &bias);
        let product = if self.int8 {
            let (shape, codes, scales) = weights.codes(&weight)?;
            let [out, inputs] = shape[..] else { bail!("model.safetensors: tensor `{weight}` is not a matrix") };
            let codes = self.int8s(&format!("{weight}.int8"), &[inputs, out], &transpose(&codes, out, inputs));
            let scales = self.floats(&format!("{weight}.int8_scale"), &[out], &scales);
            let (quantized, row_scales) = self.quantize_rows(x);
            let product = self.op("MatMulInteger", &[&quantized, &codes], Vec::new());
            let product = self.op("Cast", &[&product], vec![int("to", data_type::FLOAT as i64)]);
            let product = self.op("Mul", &[&product, &row_scales], Vec::new());
            self.op("Mul", &[&product, &scales], Vec::new())
        } else {
            let (shape, values) = weights.floats(&weight)?;
            let [out, inputs] = shape[..] else { bail!("model.safetensors: tensor `{weight}` is not a matrix") };
            let matrix = self.floats(&weight, &[inputs, out], &transpose(&values, out, inputs));
            self.op("MatMul", &[x, &matrix], Vec::new())
        };
        Ok(self.op("Add", &[&product, &bias], Vec::new()))
    }

    /// `x` `[..., in]` as int8 codes with one scale per row (its largest magnitude over 127), and
    /// those scales `[..., 1]`: each token's activations get their own range, so one token's
    /// outliers do not flatten the others' (a single scale for the whole tensor, as
    /// `DynamicQuantizeLinear` takes, costs short texts the most).
    fn quantize_rows(&mut self, x: &str) -> (String, String) {
        let magnitude = self.op("Abs", &[x], Vec::new());
        let largest = self.op("ReduceMax", &[&magnitude], vec![ints("axes", &[-1]), int("keepdims", 1)]);
        let least = self.floats("least_row_scale", &[], &[1e-30]);
        let top = self.floats("int8_top", &[], &[127.0]);
        let largest = self.op("Max", &[&largest, &least], Vec::new());
        let scales = self.op("Div", &[&largest, &top], Vec::new());
        let codes = self.op("Div", &[x, &scales], Vec::new());
        let codes = self.op("Round", &[&codes], Vec::new());
        let codes = self.op("Cast", &[&codes], vec![int("to", data_type::INT8 as i64)]);
        (codes, scales)
    }

    /// Layer norm `name` (`weight`, `bias`) over the last axis of `x`.
    pub fn layer_norm(&mut self, weights: &Weights, name: &str, x: &str, epsilon: f64) -> Result<String> {
        let (_, gamma) = weights.floats(&format!("{name}.weight"))?;
        let (_, beta) = weights.floats(&format!("{name}.bias"))?;
        let gamma = self.floats(&format!("{name}.weight"), &[gamma.len()], &gamma);
        let beta = self.floats(&format!("{name}.bias"), &[beta.len()], &beta);
        Ok(self.op("LayerNormalization", &[x, &gamma, &beta], vec![int("axis", -1), float("epsilon", epsilon as f32)]))
    }

    /// The mean of `states` `[batch, len, dim]` over the positions where `mask` `[batch, len]`
    /// (float 1/0) is 1, scaled to unit length: `[batch, dim]`, as dowse and sentence-transformers
    /// pool.
    pub fn mean_unit(&mut self, states: &str, mask: &str) -> String {
        let last = self.int64s("axis_last", &[1], &[-1]);
        let sequence = self.int64s("axis_sequence", &[1], &[1]);
        let mask = self.op("Unsqueeze", &[mask, &last], Vec::new());
        let masked = self.op("Mul", &[states, &mask], Vec::new());
        let sum = self.op("ReduceSum", &[&masked, &sequence], vec![int("keepdims", 0)]);
        let count = self.op("ReduceSum", &[&mask, &sequence], vec![int("keepdims", 0)]);
        let least_count = self.floats("least_count", &[], &[1e-9]);
        let count = self.op("Max", &[&count, &least_count], Vec::new());
        let mean = self.op("Div", &[&sum, &count], Vec::new());
        let squares = self.op("Mul", &[&mean, &mean], Vec::new());
        let norm = self.op("ReduceSum", &[&squares, &last], vec![int("keepdims", 1)]);
        let norm = self.op("Sqrt", &[&norm], Vec::new());
        let least_norm = self.floats("least_norm", &[], &[1e-12]);
        let norm = self.op("Max", &[&norm, &least_norm], Vec::new());
        self.op("Div", &[&mean, &norm], Vec::new())
    }

    /// The finished model, its graph named `name`.
    pub fn finish(self, name: &str, inputs: Vec<ValueInfoProto>, outputs: Vec<ValueInfoProto>) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "dowse".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto { node: self.nodes, name: name.into(), initializer: self.initializers, input: inputs, output: outputs }),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        }
    }
}

/// A row-major `[rows, columns]` matrix as its `[columns, rows]` transpose (PyTorch keeps a
/// linear layer's weight as `[out, in]`; `MatMul` takes `[in, out]`).
pub fn transpose<T: Copy>(values: &[T], rows: usize, columns: usize) -> Vec<T> {
    (0..columns).flat_map(|c| (0..rows).map(move |r| values[r * columns + c])).collect()
}

/// An integer attribute.
pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: value, r#type: attribute_type::INT, ..Default::default() }
}

/// A float attribute.
pub fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: value, r#type: attribute_type::FLOAT, ..Default::default() }
}

/// A list-of-integers attribute.
pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: values.to_vec(), r#type: attribute_type::INTS, ..Default::default() }
}

/// A graph input or output: its name, element type and axes.
pub fn value(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(size) => Dimension { dim_value: Some(*size as i64), dim_param: None },
            Dim::Named(name) => Dimension { dim_value: None, dim_param: Some(name.to_string()) },
        })
        .collect();
    let tensor_type = TensorTypeProto { elem_type, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor_type) }) }
}
