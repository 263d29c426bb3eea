//! The query encoder's worker: it answers the app's [`Request`]s one message at a time, off the
//! page's thread. It says [`Reply::Ready`] first, then loads the model the app fetched and posted
//! ([`encode`]) and encodes each query it is sent, asking for the static encoder's table shards a
//! query needs ([`Reply::Missing`]). Two builds: `dowse-static` (`static-encoder` feature: static
//! encoders only, no Burn) and `dowse-encoder` (`encoder` feature: every model, Burn and wgpu).

mod encode;
#[cfg(feature = "encoder")]
mod network;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{self, Reply, Request, READY};
use encode::{Encoded, QueryEncoder};

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
        Request::Load { manifest, paths, choice } => {
            QueryEncoder::load(&manifest, paths.into_iter().zip(bytes).collect(), choice).await.map(|(loaded, why_cpu)| {
                let webgpu = loaded.on_webgpu();
                *encoder.borrow_mut() = Some(Rc::new(loaded));
                Reply::Loaded { webgpu, why_cpu }
            })
        }
        Request::Encode { query, pieces } => {
            let loaded = encoder.borrow().clone();
            match loaded {
                Some(loaded) => loaded.encode(&query, &pieces, &bytes).await.map(|encoded| match encoded {
                    Encoded::Vector(encoding) => Reply::Encoded(encoding),
                    Encoded::Missing(pieces) => Reply::Missing { pieces },
                }),
                None => Err("no query encoder is loaded yet".to_string()),
            }
        }
    };
    result.unwrap_or_else(|message| Reply::Failed { message })
}
