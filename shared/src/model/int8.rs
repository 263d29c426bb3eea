//! Int8 model weights: a safetensors file whose float matrices are stored as `I8` with one `F32`
//! scale per row (symmetric, `scale = max|row| / 127`) under `<name>.int8_scale`, marked by the
//! metadata entry `dowse.quantization: int8-rows`. Rows are output channels of PyTorch's
//! `[out, in]` Linear weights and tokens of embedding tables, so each keeps its own range.
//! Vectors (biases, LayerNorm) stay `F32`. Loading expands the file back to `F32` first, so every
//! loader reads both kinds.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::ModelError;

const MARKER: (&str, &str) = ("dowse.quantization", "int8-rows");
const SCALE_SUFFIX: &str = ".int8_scale";

/// One tensor of a safetensors file.
struct Tensor<'a> {
    dtype: String,
    shape: Vec<usize>,
    data: Cow<'a, [u8]>,
}

/// The tensors of a safetensors file, by name, and its metadata.
struct File<'a> {
    tensors: BTreeMap<String, Tensor<'a>>,
    metadata: Map<String, Value>,
}

fn bad(what: impl std::fmt::Display) -> ModelError {
    ModelError::Weights(format!("safetensors: {what}"))
}

fn parse(bytes: &[u8]) -> Result<File<'_>, ModelError> {
    let length = bytes.get(..8).ok_or_else(|| bad("shorter than its header length"))?;
    let length = u64::from_le_bytes(length.try_into().expect("8 bytes")) as usize;
    let header = bytes.get(8..8 + length).ok_or_else(|| bad("header runs past the end"))?;
    let data = &bytes[8 + length..];
    let header: Map<String, Value> = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
    let mut file = File { tensors: BTreeMap::new(), metadata: Map::new() };
    for (name, entry) in header {
        if name == "__metadata__" {
            file.metadata = entry.as_object().cloned().unwrap_or_default();
            continue;
        }
        let field = |key: &str| entry.get(key).ok_or_else(|| bad(format!("tensor `{name}`: no field `{key}`")));
        let dtype = field("dtype")?.as_str().ok_or_else(|| bad(format!("tensor `{name}`: field `dtype`")))?.to_string();
        let numbers = |key: &str| -> Result<Vec<usize>, ModelError> {
            field(key)?
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_u64().map(|n| n as usize)).collect())
                .ok_or_else(|| bad(format!("tensor `{name}`: field `{key}`")))
        };
        let (shape, offsets) = (numbers("shape")?, numbers("data_offsets")?);
        let [start, end] = offsets[..] else { return Err(bad(format!("tensor `{name}`: field `data_offsets`"))) };
        let data = data.get(start..end).filter(|_| start <= end).ok_or_else(|| bad(format!("tensor `{name}`: data out of range")))?;
        let expected = dtype_bytes(&dtype).and_then(|size| shape.iter().try_fold(size, |n, &d| n.checked_mul(d)));
        if expected != Some(data.len()) {
            return Err(bad(format!("tensor `{name}`: {} bytes of data for dtype {dtype} and shape {shape:?}", data.len())));
        }
        file.tensors.insert(name, Tensor { dtype, shape, data: Cow::Borrowed(data) });
    }
    Ok(file)
}

/// Bytes per element of a safetensors dtype; `None` for a name safetensors does not define.
fn dtype_bytes(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" => 8,
        _ => return None,
    })
}

/// Refuses tensors a float network cannot take: integers (except Hugging Face's `position_ids`
/// buffer, which no loader reads) and int8 matrices in a file without the int8 marker.
fn check_dtypes(file: &File<'_>, int8: bool) -> Result<(), ModelError> {
    for (name, tensor) in &file.tensors {
        let float = matches!(tensor.dtype.as_str(), "F32" | "F16" | "BF16" | "F64");
        let int8_matrix = tensor.dtype == "I8" && int8;
        if !float && !int8_matrix && !name.ends_with("position_ids") {
            let why = if tensor.dtype == "I8" {
                format!("int8 but the file lacks the `{}` marker", MARKER.0)
            } else {
                format!("dtype {} where a float is expected", tensor.dtype)
            };
            return Err(bad(format!("tensor `{name}`: {why}")));
        }
    }
    Ok(())
}

/// Writes tensors sorted by name after a header padded to 8 bytes: equal tensors, equal bytes.
fn write(file: &File<'_>) -> Vec<u8> {
    let mut header = Map::new();
    header.insert("__metadata__".into(), Value::Object(file.metadata.clone()));
    let mut offset = 0;
    for (name, tensor) in &file.tensors {
        let end = offset + tensor.data.len();
        header.insert(name.clone(), json!({"dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let mut header = serde_json::to_vec(&header).expect("a JSON map serializes");
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for tensor in file.tensors.values() {
        bytes.extend_from_slice(&tensor.data);
    }
    bytes
}

/// Stores every `F32` matrix of a safetensors file as int8 rows with their scales.
pub fn quantize_int8(weights: &[u8]) -> Result<Vec<u8>, ModelError> {
    let file = parse(weights)?;
    let mut out = File { tensors: BTreeMap::new(), metadata: file.metadata };
    out.metadata.insert(MARKER.0.into(), MARKER.1.into());
    for (name, tensor) in file.tensors {
        if tensor.dtype != "F32" || tensor.shape.len() != 2 {
            out.tensors.insert(name, tensor);
            continue;
        }
        let values: Vec<f32> = tensor.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        let (mut codes, mut scales) = (Vec::with_capacity(values.len()), Vec::with_capacity(tensor.shape[0] * 4));
        for row in values.chunks(tensor.shape[1].max(1)) {
            let scale = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let inverse = if scale > 0.0 { scale.recip() } else { 0.0 };
            codes.extend(row.iter().map(|v| (v * inverse).round().clamp(-127.0, 127.0) as i8 as u8));
            scales.extend_from_slice(&scale.to_le_bytes());
        }
        let scale = Tensor { dtype: "F32".into(), shape: vec![tensor.shape[0]], data: Cow::Owned(scales) };
        out.tensors.insert(format!("{name}{SCALE_SUFFIX}"), scale);
        out.tensors.insert(name, Tensor { dtype: "I8".into(), shape: tensor.shape, data: Cow::Owned(codes) });
    }
    Ok(write(&out))
}

/// The file with its int8 matrices expanded back to `F32`; an unmarked file is returned as is.
/// Every loader reads weights through here, so it also refuses what would panic inside Burn:
/// data of the wrong length for its dtype and shape, and tensors of a dtype no network takes.
pub fn dequantize_int8(weights: &[u8]) -> Result<Cow<'_, [u8]>, ModelError> {
    let file = parse(weights)?;
    let int8 = file.metadata.get(MARKER.0).and_then(Value::as_str) == Some(MARKER.1);
    check_dtypes(&file, int8)?;
    if !int8 {
        return Ok(Cow::Borrowed(weights));
    }
    let File { mut tensors, mut metadata } = file;
    metadata.remove(MARKER.0);
    let names: Vec<String> = tensors.iter().filter(|(_, t)| t.dtype == "I8").map(|(name, _)| name.clone()).collect();
    for name in names {
        let scale_name = format!("{name}{SCALE_SUFFIX}");
        let scales = tensors.remove(&scale_name).ok_or_else(|| bad(format!("tensor `{name}`: no `{scale_name}`")))?;
        let codes = tensors.get_mut(&name).expect("listed above");
        let rows = codes.shape.first().copied().unwrap_or(0);
        if scales.dtype != "F32" || scales.data.len() != rows * 4 || codes.shape.len() != 2 {
            return Err(bad(format!("tensor `{scale_name}`: not one F32 scale per row of `{name}`")));
        }
        let width = codes.shape[1].max(1);
        let mut values = Vec::with_capacity(codes.data.len() * 4);
        for (row, scale) in codes.data.chunks(width).zip(scales.data.chunks_exact(4)) {
            let scale = f32::from_le_bytes(scale.try_into().expect("4 bytes"));
            values.extend(row.iter().flat_map(|&c| (f32::from(c as i8) * scale).to_le_bytes()));
        }
        codes.dtype = "F32".into();
        codes.data = Cow::Owned(values);
    }
    Ok(Cow::Owned(write(&File { tensors, metadata })))
}

/// The float tensor `name` of safetensors `weights` (int8 rows dequantized): its shape and its
/// row-major values. How a model is read without a Burn backend, which in a browser could not
/// read its own tensors back synchronously.
pub fn read_tensor(weights: &[u8], name: &str) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let weights = dequantize_int8(weights)?;
    let file = parse(&weights)?;
    let tensor = file.tensors.get(name).ok_or_else(|| bad(format!("no tensor `{name}`")))?;
    if tensor.dtype != "F32" {
        return Err(bad(format!("tensor `{name}`: dtype {}, not F32", tensor.dtype)));
    }
    let values = tensor.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    Ok((tensor.shape.clone(), values))
}

/// One float matrix as an int8-rows safetensors file, `metadata` beside the int8 marker: how a
/// static encoder's table travels in pieces ([`crate::model::StaticVectors::fragments`]).
pub fn int8_matrix(name: &str, shape: [usize; 2], values: &[f32], metadata: &[(&str, String)]) -> Vec<u8> {
    let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let tensor = Tensor { dtype: "F32".into(), shape: shape.to_vec(), data: Cow::Owned(data) };
    let tensors = BTreeMap::from([(name.to_string(), tensor)]);
    let metadata = metadata.iter().map(|(key, value)| (key.to_string(), Value::from(value.as_str()))).collect();
    quantize_int8(&write(&File { tensors, metadata })).expect("a file written here parses")
}

/// The string `key` of a safetensors file's metadata, if it has one.
pub fn read_metadata(weights: &[u8], key: &str) -> Result<Option<String>, ModelError> {
    Ok(parse(weights)?.metadata.get(key).and_then(Value::as_str).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix_file(values: &[f32], shape: [usize; 2]) -> Vec<u8> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bias =
            Tensor { dtype: "F32".into(), shape: vec![2], data: Cow::Owned([0.5f32, -1.0].iter().flat_map(|v| v.to_le_bytes()).collect()) };
        let weight = Tensor { dtype: "F32".into(), shape: shape.to_vec(), data: Cow::Owned(data) };
        let tensors = BTreeMap::from([("dense.bias".to_string(), bias), ("dense.weight".to_string(), weight)]);
        let metadata = Map::from_iter([("format".to_string(), Value::from("pt"))]);
        write(&File { tensors, metadata })
    }

    #[test]
    fn int8_rows_round_trip_within_half_a_step() {
        let values = [1.0, -0.5, 0.25, 0.0, 0.002, -0.004, 0.001, 0.003];
        let original = matrix_file(&values, [2, 4]);
        let quantized = quantize_int8(&original).unwrap();
        let stored = parse(&quantized).unwrap();
        assert_eq!((stored.tensors["dense.weight"].dtype.as_str(), stored.tensors["dense.weight"].data.len()), ("I8", 8));
        assert_eq!(stored.tensors["dense.weight.int8_scale"].data.len(), 2 * 4);
        assert_eq!(stored.tensors["dense.bias"].dtype, "F32");
        let restored = dequantize_int8(&quantized).unwrap();
        let file = parse(&restored).unwrap();
        assert_eq!(file.metadata.get("format").and_then(Value::as_str), Some("pt"));
        assert!(!file.metadata.contains_key(MARKER.0));
        let weight = &file.tensors["dense.weight"];
        assert_eq!((weight.dtype.as_str(), weight.shape.as_slice()), ("F32", &[2, 4][..]));
        let restored: Vec<f32> = weight.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        for (row, (original, restored)) in values.chunks(4).zip(restored.chunks(4)).enumerate() {
            let step = original.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (a, b) in original.iter().zip(restored) {
                assert!((a - b).abs() <= step / 2.0 + 1e-9, "row {row}: {a} came back as {b}");
            }
        }
        assert_eq!(file.tensors["dense.bias"].data, parse(&original).unwrap().tensors["dense.bias"].data);
        assert_eq!(restored.len(), 8);
    }

    #[test]
    fn unmarked_files_pass_through_and_damage_is_an_error() {
        let original = matrix_file(&[1.0; 8], [2, 4]);
        assert!(matches!(dequantize_int8(&original).unwrap(), Cow::Borrowed(_)));
        let mut quantized = quantize_int8(&original).unwrap();
        quantized.truncate(quantized.len() - 3);
        assert!(dequantize_int8(&quantized).is_err());
        assert!(dequantize_int8(&[1, 2, 3]).is_err());
    }

    #[test]
    fn wrong_dtypes_and_lengths_are_named() {
        let original = matrix_file(&[1.0; 8], [2, 4]);
        let retyped = |to: &str| {
            let mut file = parse(&original).unwrap();
            let weight = file.tensors.get_mut("dense.weight").unwrap();
            weight.dtype = to.to_string();
            if to == "U8" {
                weight.data = Cow::Owned(vec![0; 8]);
            }
            dequantize_int8(&write(&file)).map(|_| ()).unwrap_err().to_string()
        };
        assert!(retyped("I32").contains("tensor `dense.weight`: dtype I32 where a float is expected"));
        assert!(retyped("U8").contains("dtype U8"));
        let quantized = quantize_int8(&original).unwrap();
        let mut quantized = parse(&quantized).unwrap();
        quantized.metadata.remove(MARKER.0);
        let error = dequantize_int8(&write(&quantized)).unwrap_err().to_string();
        assert!(error.contains("int8 but the file lacks"), "{error}");
        let mut short = parse(&original).unwrap();
        short.tensors.get_mut("dense.weight").unwrap().shape = vec![3, 4];
        assert!(dequantize_int8(&write(&short)).unwrap_err().to_string().contains("32 bytes of data for dtype F32 and shape [3, 4]"));
    }
}
