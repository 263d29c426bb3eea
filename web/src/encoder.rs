//! The query encoder, as the page sees it: a Web Worker that the page starts beside its keyword
//! search, posts the bundle's model files to, then asks for each query's vector
//! ([`crate::protocol`]); a static encoder may answer with the table's shards it needs first. The
//! worker runs `dowse-static` (a static encoder, no Burn) or `dowse-encoder` (any model, Burn and
//! wgpu), second wasm modules: the page's own stays small, and the encoder's download and its work
//! never block the page.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use dowse_core::bundle::Manifest;
use dowse_web::browser::js_error;
use dowse_web::protocol::{self, BackendChoice, Encoding, Reply, Request, READY};
use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// The workers' script, in the app's folder (www/dowse-worker.js: it loads the module its URL
/// names).
const WORKER_SCRIPT: &str = "dowse-worker.js";

/// The worker module for `manifest`'s query encoder: the small static one when its table is in
/// fragments, else the one with every network.
pub fn worker_module(manifest: &Manifest) -> &'static str {
    match manifest.model.pieces {
        Some(_) => "dowse-static",
        None => "dowse-encoder",
    }
}

/// What the worker answered for a query.
pub enum Answer {
    Encoded(Encoding),
    /// The static encoder's table shards the query needs first (fragment names).
    Missing(Vec<String>),
}

type Pending = Rc<RefCell<HashMap<u32, oneshot::Sender<Result<Reply, String>>>>>;

/// The query encoder in its worker; dropping it stops the worker.
pub struct QueryEncoder {
    worker: Worker,
    pending: Pending,
    /// The worker's first message, until [`QueryEncoder::load`] waits for it.
    listening: Option<oneshot::Receiver<Result<Reply, String>>>,
    next_id: Cell<u32>,
    webgpu: bool,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl QueryEncoder {
    /// Starts the worker running `module` ([`worker_module`]) from the app's folder `app`: its
    /// module downloads from now on, beside whatever the page fetches meanwhile (the model's
    /// files). [`QueryEncoder::load`] follows.
    pub fn start(app: &str, module: &str) -> Result<Self, String> {
        let url = format!("{app}{WORKER_SCRIPT}?module={module}");
        let worker = Worker::new(&url).map_err(|e| format!("{url}: {}", js_error(e)))?;
        let pending: Pending = Rc::default();
        let (ready, listening) = oneshot::channel();
        pending.borrow_mut().insert(READY, ready);
        let on_message = {
            let pending = pending.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let (id, reply) = match protocol::read::<Reply>(&event.data()) {
                    Ok((id, reply, _)) => (id, Ok(reply)),
                    Err(message) => (READY, Err(message)),
                };
                if let Some(sender) = pending.borrow_mut().remove(&id) {
                    let _ = sender.send(reply);
                }
            })
        };
        // A worker that fails (its script missing, its wasm refused) answers nothing: every
        // request still waiting gets the error instead. The page handles it, so it is not also
        // reported as an uncaught error of the page.
        let on_error = {
            let pending = pending.clone();
            Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
                event.prevent_default();
                for (_, sender) in pending.borrow_mut().drain() {
                    let _ = sender.send(Err(format!("the query encoder's worker ({url}) failed: {}", event.message())));
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let listening = Some(listening);
        Ok(Self { worker, pending, listening, next_id: Cell::new(READY + 1), webgpu: false, _on_message: on_message, _on_error: on_error })
    }

    /// Waits until the worker listens, hands it the model's files (path, bytes) and waits until
    /// it has loaded them on WebGPU (if `choice` allows and an adapter exists) or the CPU; says
    /// why the CPU was chosen when it was.
    pub async fn load(
        mut self,
        manifest: &Manifest,
        files: Vec<(String, Vec<u8>)>,
        choice: BackendChoice,
    ) -> Result<(Self, Option<String>), String> {
        let listening = self.listening.take().ok_or("the query encoder is already loaded")?;
        match listening.await.map_err(|_| "the query encoder's worker stopped".to_string())?? {
            Reply::Ready => {}
            other => return Err(unexpected(other)),
        }
        let (paths, bytes): (Vec<String>, Vec<Vec<u8>>) = files.into_iter().unzip();
        let load = Request::Load { manifest: Box::new(manifest.clone()), paths, choice };
        match self.ask(&load, &bytes).await? {
            Reply::Loaded { webgpu, why_cpu } => {
                self.webgpu = webgpu;
                Ok((self, why_cpu))
            }
            other => Err(unexpected(other)),
        }
    }

    /// What the results line shows.
    pub fn label(&self) -> &'static str {
        if self.webgpu {
            "WebGPU"
        } else {
            "CPU"
        }
    }

    /// Asks for `query`'s vector, handing over the table's shards named in `pieces` (`bytes`, in
    /// order) that an earlier [`Answer::Missing`] asked for.
    pub async fn encode(&self, query: &str, pieces: Vec<String>, bytes: &[Vec<u8>]) -> Result<Answer, String> {
        match self.ask(&Request::Encode { query: query.to_string(), pieces }, bytes).await? {
            Reply::Encoded(encoding) => Ok(Answer::Encoded(encoding)),
            Reply::Missing { pieces } => Ok(Answer::Missing(pieces)),
            other => Err(unexpected(other)),
        }
    }

    /// Posts `request` and waits for its reply.
    async fn ask(&self, request: &Request, bytes: &[Vec<u8>]) -> Result<Reply, String> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let (sender, reply) = oneshot::channel();
        self.pending.borrow_mut().insert(id, sender);
        self.worker.post_message(&protocol::message(id, request, bytes)).map_err(js_error)?;
        reply.await.map_err(|_| "the query encoder's worker stopped".to_string())?
    }
}

impl Drop for QueryEncoder {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// A reply that is not the one asked for: the worker's failure, or a mismatch of versions. Named,
/// not printed with `Debug`, which would bring the float formatter's `Debug` into the module.
fn unexpected(reply: Reply) -> String {
    let answered = match reply {
        Reply::Failed { message } => return message,
        Reply::Ready => "that it is ready",
        Reply::Loaded { .. } => "that it loaded",
        Reply::Encoded(_) => "with a vector",
        Reply::Missing { .. } => "with pieces to fetch",
    };
    format!("the query encoder's worker answered out of turn, {answered}")
}
