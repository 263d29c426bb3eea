//! Any query encoder that is a network (`encoder` feature): a BERT, a DSSM or a two-tower LSTM,
//! on WebGPU through burn-wgpu where the browser gives an adapter, else on the CPU: a BERT on
//! dowse's own CPU kernels (matrixmultiply's wasm SIMD, one thread), the others on burn-ndarray.
//! Tensors are only read back asynchronously (a browser cannot block on the GPU).

use burn::tensor::backend::Backend;
pub use burn_ndarray::NdArray;
pub use burn_wgpu::Wgpu;
use burn_wgpu::{graphics::WebGpu, RuntimeOptions, WgpuDevice};
use dowse_core::bundle::{check_model, BundleError, Manifest, ModelBytes};
pub use dowse_core::model::Encoder;
use dowse_core::model::{EncoderConfig, QueryTokens};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::encode::QueryEncoder;
use crate::browser::{global, js_error, now_ms};
use crate::protocol::{BackendChoice, Encoding, Unit};

pub async fn load(
    manifest: &Manifest,
    take: impl FnMut(&str) -> Result<Vec<u8>, BundleError>,
    choice: BackendChoice,
) -> Result<(QueryEncoder, Option<String>), String> {
    let model = ModelBytes::read(manifest, take).and_then(|model| check_model(manifest, &model).map(|()| model));
    let model = model.map_err(|e| e.to_string())?;
    let config = EncoderConfig { max_len: manifest.model.max_len, batch_size: 1, ..EncoderConfig::default() };
    let why_cpu = match choice {
        BackendChoice::Cpu => Some("the CPU was asked for (?backend=cpu)".to_string()),
        BackendChoice::Auto => webgpu_adapter().await.err(),
    };
    if why_cpu.is_none() {
        let device = WgpuDevice::default();
        burn_wgpu::init_setup_async::<WebGpu>(&device, RuntimeOptions::default()).await;
        let encoder = Encoder::load(model.files(), config, &device).map_err(|e| e.to_string())?;
        return Ok((QueryEncoder::WebGpu(Box::new(encoder)), None));
    }
    let config = EncoderConfig { cpu_kernels: true, ..config };
    let encoder = Encoder::load(model.files(), config, &Default::default()).map_err(|e| e.to_string())?;
    Ok((QueryEncoder::Cpu(Box::new(encoder)), why_cpu))
}

pub async fn encode<B: Backend>(encoder: &Encoder<B>, query: &str) -> Result<Encoding, String> {
    let start = now_ms();
    let tokens = encoder.tokenize_query(query).map_err(|e| e.to_string())?;
    let tokenized = now_ms();
    let data = encoder.embed_query(&tokens).map_err(|e| e.to_string())?.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    let vector = data.to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    let unit = if matches!(tokens, QueryTokens::Trigrams(_)) { Unit::Trigrams } else { Unit::Tokens };
    Ok(Encoding { vector, tokens: tokens.len(), unit, tokenize_ms: tokenized - start, encode_ms: now_ms() - tokenized })
}

/// Asks the browser for a WebGPU adapter before wgpu does: wgpu panics when there is none,
/// and a panic would stop the app instead of falling back to the CPU.
async fn webgpu_adapter() -> Result<(), String> {
    let navigator = global("navigator").ok_or("no navigator")?;
    let gpu = js_sys::Reflect::get(&navigator, &"gpu".into()).map_err(js_error)?;
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU".to_string());
    }
    let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into()).map_err(js_error)?;
    let request: js_sys::Function = request.dyn_into().map_err(|_| "navigator.gpu.requestAdapter is not a function")?;
    let promise: js_sys::Promise = request.call0(&gpu).map_err(js_error)?.dyn_into().map_err(js_error)?;
    let adapter = JsFuture::from(promise).await.map_err(js_error)?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("no WebGPU adapter is available".to_string());
    }
    Ok(())
}
