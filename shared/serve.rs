//! What a long-running face (the MCP server, the web dashboard) needs besides the operations:
//! workers that keep a store open on their own thread (a store's repository handle may not
//! cross threads) and run each call as a given actor, and the feed's changes as a broadcast.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::store::Store;

/// A piece of work for a worker: the worker's store, brought up to date, or why it could not be.
type Job = Box<dyn FnOnce(Result<&Store>) + Send>;

/// Threads that each keep a store open, so that a call costs no open.
pub struct Workers {
    dir: PathBuf,
    /// Workers waiting for work. A busy server starts more; at most `IDLE` wait.
    idle: Mutex<Vec<mpsc::Sender<Job>>>,
}

/// How many workers wait for work at most (the rest end once they are done).
const IDLE: usize = 4;

impl Workers {
    /// Workers for the repository at `dir`; none starts until there is work.
    pub fn new(dir: PathBuf) -> Arc<Workers> {
        Arc::new(Workers {
            dir,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a worker's store, as `actor` when one is named; the answer comes back on
    /// the returned channel.
    pub fn run<T: Send + 'static>(
        self: &Arc<Self>,
        actor: Option<String>,
        f: impl FnOnce(&Store, Option<&str>) -> Result<T> + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<Result<T>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            let out = store.and_then(|s| match &actor {
                Some(a) => crate::actor::acting_as(a, || f(s, Some(a))).and_then(|r| r),
                None => f(s, None),
            });
            let _ = tx.send(out);
        });
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let job = match idle {
            Some(w) => match w.send(job) {
                Ok(()) => return rx,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        if let Err(mpsc::SendError(job)) = self.worker().send(job) {
            job(Err(Error::Failed {
                message: "no worker thread could be started".into(),
                hint: "the machine is out of threads or memory; try again".into(),
            }));
        }
        rx
    }

    /// Starts a worker: a thread that opens a store on its first job and keeps it.
    fn worker(self: &Arc<Self>) -> mpsc::Sender<Job> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (core, me) = (self.clone(), tx.clone());
        let _ = std::thread::Builder::new().name("grit-mcp".into()).spawn(move || {
            let mut store: Option<Store> = None;
            while let Ok(job) = rx.recv() {
                let ready = match store.take() {
                    Some(s) => s.index.refresh(&s.repo).map(|_| s),
                    None => Store::open(&core.dir),
                };
                match ready {
                    Ok(s) => {
                        job(Ok(&s));
                        store = Some(s);
                    }
                    Err(e) => job(Err(e)),
                }
                let mut idle = core.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() >= IDLE {
                    return;
                }
                idle.push(me.clone());
            }
        });
        tx
    }
}

/// A change the feed recorded, as subscriptions need it.
#[derive(Debug, Clone)]
pub enum Changed {
    /// An event on this issue (hex id).
    Issue(String),
    /// A lock changed.
    Lock,
    /// A step of this sandbox.
    Sandbox(String),
}

fn watch_feed(
    store: Store,
    waker: crate::live::Waker,
    mut stream: crate::live::Stream,
    tx: broadcast::Sender<Changed>,
) {
    let mut fold = crate::live::FoldLater::default();
    let filter = crate::live::Filter::default();
    loop {
        if let Ok(items) = stream.poll(&store, &filter, 1 << 20) {
            for item in items {
                let change = match (item.kind.as_str(), item.issue) {
                    (_, Some(id)) => Changed::Issue(id.to_hex()),
                    ("lock", None) => Changed::Lock,
                    ("sandbox", None) => {
                        Changed::Sandbox(item.record["sandbox"]["name"].as_str().unwrap_or_default().to_owned())
                    }
                    _ => continue,
                };
                if tx.send(change).is_err() {
                    // Nobody listens any more.
                    return;
                }
            }
        }
        let woken = waker.wait(fold.timeout(std::time::Duration::from_secs(3600)));
        fold.note(&woken);
        if fold.due() {
            let _ = store.index.refresh(&store.repo);
        }
    }
}

/// The feed's changes, from a watcher started on first use.
pub struct Hub {
    dir: PathBuf,
    hub: OnceLock<broadcast::Sender<Changed>>,
}

impl Hub {
    /// A hub for the repository at `dir`; its watcher starts on first use.
    pub fn new(dir: PathBuf) -> Hub {
        Hub {
            dir,
            hub: OnceLock::new(),
        }
    }

    /// Changes as the feed records them, from a watcher started on first use.
    pub fn subscribe(&self) -> Result<broadcast::Receiver<Changed>> {
        if let Some(tx) = self.hub.get() {
            return Ok(tx.subscribe());
        }
        let (tx, rx) = broadcast::channel(1024);
        if self.hub.set(tx.clone()).is_err() {
            // Another session started it meanwhile.
            return Ok(self.hub.get().expect("set").subscribe());
        }
        // The watcher's store lives on its thread; it says when it is watching.
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let dir = self.dir.clone();
        std::thread::Builder::new()
            .name("grit-mcp-feed".into())
            .spawn(move || {
                let started = Store::open(&dir).and_then(|s| {
                    let waker = crate::live::Waker::new(&s.repo)?;
                    let (stream, _) = crate::live::Stream::open(&s.repo, &crate::live::Since::Now)?;
                    Ok((s, waker, stream))
                });
                match started {
                    Ok((s, waker, stream)) => {
                        let _ = ready_tx.send(Ok(()));
                        watch_feed(s, waker, stream, tx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(Error::io("a thread"))?;
        ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::Failed {
                message: "the feed's watcher did not start".into(),
                hint: "try again".into(),
            })
        })?;
        Ok(rx)
    }
}

/// Compares two secrets without leaking, through the time it takes, where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Resolves on SIGINT or SIGTERM; never, when `own` is false (a host process that handles
/// signals itself, as the daemon does).
pub async fn stop_signal(own: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    if !own {
        return std::future::pending().await;
    }
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Accepts HTTP/1.1 connections on `listener` until `stop` resolves, each served by the service
/// `service` makes for it.
pub async fn accept<S, B>(
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()>,
    service: impl Fn() -> S,
) where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = hyper::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(stop);
    loop {
        let (socket, _) = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors, say: the next accept may do better.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = service();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(socket), handler)
                .await;
        });
    }
}
