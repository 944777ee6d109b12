//! `git issue serve`: the web dashboard. A local HTTP server whose pages are rendered here
//! (every stored string escaped), with a little plain JavaScript for live updates (Server-Sent
//! Events from the feed) and actions. Every action calls the operation the CLI calls.
//!
//! Security: it binds 127.0.0.1 unless told otherwise, and another address needs a token; the
//! Host and Origin headers must name the server itself (DNS rebinding, cross-site requests); a
//! POST needs the page's CSRF token; a Content-Security-Policy allows no inline script and no
//! other origin.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::error::{Error, Result};
use crate::serve::{Hub, Workers};

mod highlight;
mod pages;

/// How to serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The repository to serve.
    pub dir: PathBuf,
    /// The address to listen on (127.0.0.1 unless `--bind`).
    pub bind: IpAddr,
    /// 0 picks a free port (printed on stderr).
    pub port: u16,
    /// Required of every request when set (a cookie once given as `?token=`, or a bearer token).
    pub token: Option<String>,
    /// The actor the page's actions act as (default: as the CLI would).
    pub actor: Option<String>,
}

impl Options {
    /// Serving the repository at `dir` on 127.0.0.1:8080.
    pub fn new(dir: PathBuf) -> Options {
        Options {
            dir,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            token: None,
            actor: None,
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

struct State {
    workers: Arc<Workers>,
    hub: Hub,
    actor: Option<String>,
    csrf: String,
    token: Option<String>,
    /// `host:port` forms a request's Host may take.
    hosts: Vec<String>,
}

/// Serves until SIGINT or SIGTERM. `ready` hears the address once it listens.
pub fn serve(opts: Options, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    if !opts.bind.is_loopback() && opts.token.is_none() {
        return Err(Error::invalid(
            format!(
                "serving on {} needs a token: anyone who reaches the address could act as you",
                opts.bind
            ),
            "set GRIT_WEB_TOKEN (or --token) to a secret, or leave --bind out to serve on 127.0.0.1",
        ));
    }
    if let Some(a) = &opts.actor {
        crate::actor::validate_label(a)?;
    }
    drop(crate::store::Store::open(&opts.dir)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::io("the async runtime"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((opts.bind, opts.port))
            .await
            .map_err(|e| Error::Failed {
                message: format!("cannot listen on {}:{}: {e}", opts.bind, opts.port),
                hint: "pick another port with --port (0 picks a free one)".into(),
            })?;
        let addr = listener.local_addr().map_err(Error::io("the listening socket"))?;
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !opts.bind.is_loopback() {
            hosts.push(match opts.bind {
                IpAddr::V6(ip) => format!("[{ip}]:{port}"),
                ip => format!("{ip}:{port}"),
            });
        }
        let mut secret = [0u8; 16];
        getrandom::getrandom(&mut secret).map_err(|e| Error::Failed {
            message: format!("no randomness for the CSRF token: {e}"),
            hint: "the system's random source is unavailable".into(),
        })?;
        let state = Arc::new(State {
            workers: Workers::new(opts.dir.clone()),
            hub: Hub::new(opts.dir.clone()),
            actor: opts.actor.clone(),
            csrf: crate::hex::encode(&secret),
            token: opts.token.clone(),
            hosts,
        });
        ready(addr);
        crate::serve::accept(listener, crate::serve::stop_signal(true), move || {
            let state = state.clone();
            hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(secured(handle(&state, req).await)) }
            })
        })
        .await;
        Ok(())
    })
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every answer carries.
fn secured(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

fn respond(status: StatusCode, kind: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

fn html(body: String) -> Response<Body> {
    let mut r = respond(StatusCode::OK, "text/html; charset=utf-8", body);
    r.headers_mut()
        .insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    r
}

fn header<'a>(req: &'a Request<hyper::body::Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn same(a: &str, b: &str) -> bool {
    crate::serve::same_secret(a.as_bytes(), b.as_bytes())
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// How many issues a graph draws: `?limit=N`, 500 by default and at most.
fn limit(params: &HashMap<String, String>) -> usize {
    params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .map_or(500, |l: usize| l.clamp(1, 500))
}

async fn handle(state: &Arc<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    // DNS rebinding: the Host must be this server's own name.
    let host = header(&req, "host").unwrap_or("");
    if !state.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return text(
            StatusCode::FORBIDDEN,
            "forbidden: the Host header does not name this server",
        );
    }
    // A page of another site: its Origin is not ours.
    if let Some(origin) = header(&req, "origin")
        && !state
            .hosts
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
    {
        return text(StatusCode::FORBIDDEN, "forbidden: a request from another origin");
    }
    let params = query_map(req.uri().query());
    if let Some(token) = &state.token {
        let cookie = header(&req, "cookie")
            .into_iter()
            .flat_map(|c| c.split(';'))
            .filter_map(|c| c.trim().strip_prefix("grit_token="))
            .any(|t| same(t, token));
        let bearer = header(&req, "authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| same(t, token));
        if !(cookie || bearer) {
            if let Some(given) = params.get("token")
                && same(given, token)
                && req.method() == Method::GET
            {
                // Once given in the URL, kept in a cookie only this site sends.
                let mut r = redirect(req.uri().path());
                if let Ok(v) = HeaderValue::from_str(&format!("grit_token={token}; HttpOnly; SameSite=Strict; Path=/"))
                {
                    r.headers_mut().insert(hyper::header::SET_COOKIE, v);
                }
                return r;
            }
            return text(
                StatusCode::UNAUTHORIZED,
                "unauthorized: open the URL with ?token=… once",
            );
        }
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let fragment = header(&req, "x-grit-fragment").is_some();
    if method == Method::POST {
        return post(state, req, &path).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    match path.as_str() {
        "/static/app.js" => return respond(StatusCode::OK, "text/javascript; charset=utf-8", pages::APP_JS),
        "/static/app.css" => return respond(StatusCode::OK, "text/css; charset=utf-8", pages::APP_CSS),
        "/events" => return events(state).await,
        "/favicon.ico" => return text(StatusCode::NOT_FOUND, "none"),
        _ => {}
    }
    let csrf = state.csrf.clone();
    let page = match path.as_str() {
        "/" => pages::Page::Board {
            q: params.get("q").cloned().filter(|q| !q.trim().is_empty()),
            view: params.get("view").cloned().filter(|v| !v.is_empty()),
        },
        "/graph" => pages::Page::Graph {
            q: params.get("q").cloned().filter(|q| !q.trim().is_empty()),
            limit: limit(&params),
        },
        "/graph.svg" => pages::Page::GraphSvg {
            q: params.get("q").cloned().filter(|q| !q.trim().is_empty()),
            limit: limit(&params),
        },
        "/agents" => pages::Page::Agents,
        "/sandboxes" => pages::Page::Sandboxes,
        p => match (p.strip_prefix("/issue/"), p.strip_prefix("/sandbox/")) {
            (Some(id), _) if !id.is_empty() && !id.contains('/') => pages::Page::Issue(id.to_owned()),
            (_, Some(name)) if !name.is_empty() && !name.contains('/') => pages::Page::Sandbox(name.to_owned()),
            _ => return html(pages::not_found(&csrf, p)),
        },
    };
    let svg = matches!(page, pages::Page::GraphSvg { .. });
    let rendered = state
        .workers
        .run(state.actor.clone(), move |s, _| {
            pages::render(s, &page, &csrf, fragment)
        })
        .await;
    match rendered {
        Ok(Ok(body)) if svg => respond(StatusCode::OK, "image/svg+xml", body),
        Ok(Ok(body)) => html(body),
        Ok(Err(e)) => {
            let status = match e {
                Error::NotFound { .. } => StatusCode::NOT_FOUND,
                Error::Invalid { .. } | Error::Query { .. } | Error::Ambiguous { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut r = html(pages::error_page(&state.csrf, &e));
            *r.status_mut() = status;
            r
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the page could not be made"),
    }
}

/// The largest form taken.
const MAX_FORM: usize = 256 * 1024;

async fn post(state: &Arc<State>, req: Request<hyper::body::Incoming>, path: &str) -> Response<Body> {
    let header_token = header(&req, "x-csrf-token").map(str::to_owned);
    let fetch = header_token.is_some();
    let body = match http_body_util::Limited::new(req.into_body(), MAX_FORM).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"),
    };
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let given = header_token.or_else(|| form.get("csrf").cloned()).unwrap_or_default();
    if !same(&given, &state.csrf) {
        return text(
            StatusCode::FORBIDDEN,
            "forbidden: the CSRF token is missing or wrong (reload the page)",
        );
    }
    let Some(rest) = path.strip_prefix("/issue/") else {
        return text(StatusCode::NOT_FOUND, "no such action");
    };
    let Some((id, action)) = rest.split_once('/') else {
        return text(StatusCode::NOT_FOUND, "no such action");
    };
    let (id, action) = (id.to_owned(), action.to_owned());
    let done = state
        .workers
        .run(state.actor.clone(), move |s, _| pages::act(s, &id, &action, &form))
        .await;
    match done {
        Ok(Ok(id)) if fetch => respond(StatusCode::OK, "application/json", format!("{{\"id\":\"{id}\"}}")),
        Ok(Ok(id)) => redirect(&format!("/issue/{id}")),
        Ok(Err(e)) => {
            let mut message = e.to_string();
            for h in e.hints() {
                message.push_str("\nhint: ");
                message.push_str(&h);
            }
            let status = match e.exit_code() {
                2 => StatusCode::BAD_REQUEST,
                3 => StatusCode::CONFLICT,
                _ if matches!(e, Error::NotFound { .. }) => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            text(status, &message)
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the action could not be done"),
    }
}

/// Server-Sent Events: a `change` for everything the feed records, as it does.
async fn events(state: &Arc<State>) -> Response<Body> {
    let mut rx = match state.hub.subscribe() {
        Ok(rx) => rx,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (tx, out) = tokio::sync::mpsc::channel::<std::result::Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        if tx
            .send(Ok(Frame::data(Bytes::from_static(b"retry: 1000\n\n"))))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let msg = tokio::select! {
                c = rx.recv() => match c {
                    Ok(crate::serve::Changed::Issue(id)) => format!("event: change\ndata: {{\"issue\":\"{id}\"}}\n\n"),
                    Ok(crate::serve::Changed::Lock) => "event: change\ndata: {\"lock\":true}\n\n".to_owned(),
                    Ok(crate::serve::Changed::Sandbox(name)) => format!("event: change\ndata: {}\n\n", serde_json::json!({ "sandbox": name })),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => "event: change\ndata: {}\n\n".to_owned(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep(Duration::from_secs(15)) => ": keep-alive\n\n".to_owned(),
            };
            if tx.send(Ok(Frame::data(Bytes::from(msg)))).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream_of(out);
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    r
}

/// A receiver as a stream of frames.
fn tokio_stream_of<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_core::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
