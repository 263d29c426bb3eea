//! The query encoder's worker (bin `dowse-encoder`, `encoder` feature): it answers the app's
//! [`Request`]s one message at a time, off the page's thread. It says [`Reply::Ready`] first,
//! then loads the model the app fetched and posted ([`encode`]: Burn on WebGPU or the CPU) and
//! encodes each query it is sent.

mod encode;

use std::cell::RefCell;
use std::rc::Rc;

use dowse_core::bundle::{check_model, BundleError, ModelBytes};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{self, Reply, Request, READY};
use encode::{BackendChoice, QueryEncoder};

/// Listens for the app's requests and tells it so.
pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let encoder: Rc<RefCell<Option<Rc<QueryEncoder>>>> = Rc::default();
    let replies = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let (scope, encoder) = (replies.clone(), encoder.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let (id, reply) = match protocol::read::<Request>(&event.data()) {
                Ok((id, request, bytes)) => (id, answer(&encoder, request, bytes).await),
                Err(message) => (READY, Reply::Failed { message }),
            };
            let _ = scope.post_message(&protocol::message(id, &reply, &[]));
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let _ = scope.post_message(&protocol::message(READY, &Reply::Ready, &[]));
}

async fn answer(encoder: &RefCell<Option<Rc<QueryEncoder>>>, request: Request, bytes: Vec<Vec<u8>>) -> Reply {
    let result = match request {
        Request::Load { manifest, paths, cpu } => {
            let mut files: Vec<(String, Vec<u8>)> = paths.into_iter().zip(bytes).collect();
            let model = ModelBytes::read(&manifest, |path| {
                let found = files.iter().position(|(p, _)| p == path);
                found.map(|i| files.swap_remove(i).1).ok_or_else(|| BundleError::MissingFile(path.to_string()))
            });
            let model = model.and_then(|model| check_model(&manifest, &model).map(|()| model)).map_err(|e| e.to_string());
            let choice = if cpu { BackendChoice::Cpu } else { BackendChoice::Auto };
            match model {
                Ok(model) => QueryEncoder::load(&model, manifest.model.max_len, choice).await.map(|(loaded, why_cpu)| {
                    let webgpu = loaded.on_webgpu();
                    *encoder.borrow_mut() = Some(Rc::new(loaded));
                    Reply::Loaded { webgpu, why_cpu }
                }),
                Err(message) => Err(message),
            }
        }
        Request::Encode { query } => {
            let loaded = encoder.borrow().clone();
            match loaded {
                Some(loaded) => loaded.encode(&query).await.map(Reply::Encoded),
                None => Err("no query encoder is loaded yet".to_string()),
            }
        }
    };
    result.unwrap_or_else(|message| Reply::Failed { message })
}
