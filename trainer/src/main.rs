//! `dowse`: the command line. Each subcommand lives in its own module; this file only parses and dispatches.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use dowse_trainer::{eval, export, index, mine, model_fetch, search, serve, train, viz};

// The encoder allocates and frees large tensors every layer; glibc's malloc returns them to the
// kernel each time (a third of the CPU time went to page faults), mimalloc keeps and reuses them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h; the bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[derive(Debug, Parser)]
#[command(name = "dowse", version, about = "Semantic search that trains its own models and runs in the browser")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage models in $DOWSE_HOME/models (default ~/.cache/dowse/models).
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Build a search bundle from a corpus: passages, vectors, HNSW graph, BM25 index, documents.
    Index(index::IndexArgs),
    /// Search a bundle from the command line.
    Search(search::SearchArgs),
    /// Host the web app and a bundle; answer /api/search and /api/rerank.
    Serve(serve::ServeArgs),
    /// Train a retrieval model (DSSM, two-tower LSTM) from relevance judgments.
    Train(train::TrainArgs),
    /// Distill a small bi-encoder student from a teacher bi-encoder and a cross-encoder's scores,
    /// or (--align-to) a static query encoder from unlabeled text.
    Distill(train::distill::DistillArgs),
    /// Mine hard negatives for training: BM25 and dense candidates, scored by a teacher, false negatives dropped.
    Mine(mine::MineArgs),
    /// Plot queries and passages of a collection as a model embeds them (PCA or t-SNE, PNG).
    Viz(viz::VizArgs),
    /// Evaluate BM25, dense or hybrid retrieval on a BEIR or SMART collection, or through a bundle.
    Eval(eval::EvalArgs),
    /// Export a model to ONNX (f32, and int8 with --int8) in the layout Transformers.js,
    /// sentence-transformers and ONNX Runtime load.
    Export(export::ExportArgs),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Download (or copy) a model, verify its checksum and cache it.
    Fetch {
        /// Model name.
        #[arg(default_value = model_fetch::DEFAULT_MODEL)]
        name: String,
        /// Copy from a local Hugging Face folder (config.json, model.safetensors, tokenizer.json)
        /// instead of downloading.
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

fn main() {
    // Freed memory stays with the process instead of going back to the kernel after mimalloc's
    // delay: training on the CPU frees and allocates tensors of tens of MB in every op, and the
    // kernel zeroed fresh pages for them in a fifth of a cross-encoder step (results/train.md).
    // SAFETY: options are set before any other thread exists, as mimalloc requires.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let command = Cli::parse().command;
    // A panic has printed its message by the time it gets here; ending through `exit_now` too
    // keeps a panicking run from hanging in exit handlers (it did, in mimalloc's).
    let code = match std::panic::catch_unwind(|| run(command)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("Error: {e:?}");
            1
        }
        Err(_) => 101,
    };
    exit_now(code)
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Model { command: ModelCommand::Fetch { name, from } } => {
            let dir = model_fetch::fetch(&name, from.as_deref())?;
            println!("{}", dir.display());
            Ok(())
        }
        Command::Index(args) => index::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Mine(args) => mine::run(&args),
        Command::Distill(args) => train::distill::run(&args),
        Command::Viz(args) => viz::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Export(args) => export::run(&args),
    }
}

/// Ends the process without running C libraries' exit handlers. Such a handler can join a thread
/// pool and wait forever for a worker that never wakes (OpenBLAS's did, when it did the CPU
/// backend's matmuls: `dowse serve` drained its requests, returned, and hung in
/// `blas_thread_shutdown_`); what those handlers would free, the kernel frees anyway. Rust's own
/// buffers are flushed first.
fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process at once; nothing runs after it.
    unsafe { libc::_exit(code) }
}
