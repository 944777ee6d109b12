//! The streamable HTTP transport: `POST/GET/DELETE /mcp` on 127.0.0.1 only. The SDK checks the
//! Host header (only loopback names, so a DNS-rebound page cannot reach it) and the Origin (only
//! this server's own, for browsers); a bearer token, when set, is required of every request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::{Core, Server};
use crate::error::{Error, Result};
use crate::serve::same_secret;

/// How to serve over HTTP.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HttpOptions {
    /// 0 picks a free port (printed on stderr).
    pub port: u16,
    /// Required as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// Browser origins allowed besides the server's own (`http://localhost:5173`).
    pub origins: Vec<String>,
    /// Stop on SIGINT and SIGTERM (a server of its own); a host process that handles signals
    /// itself (the daemon) leaves them alone.
    pub own_signals: bool,
    /// Set to the port once it listens (for a host to report).
    pub bound: Option<Arc<std::sync::atomic::AtomicU16>>,
}

impl HttpOptions {
    /// Serving on `port` (0: any free port), handling its own signals.
    pub fn on(port: u16) -> HttpOptions {
        HttpOptions {
            port,
            own_signals: true,
            ..HttpOptions::default()
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response<BoxBody<Bytes, Infallible>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

pub(super) async fn serve(core: Arc<Core>, opts: &HttpOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| Error::Failed {
            message: format!("cannot listen on 127.0.0.1:{}: {e}", opts.port),
            hint: "pick another port with --http PORT (0 picks a free one)".into(),
        })?;
    let port = listener.local_addr().map_err(Error::io("the listening socket"))?.port();
    let hosts = ["127.0.0.1", "localhost", "[::1]"];
    let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}:{port}")).collect();
    origins.extend(opts.origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(
            hosts
                .iter()
                .flat_map(|h| [h.to_string(), format!("{h}:{port}")])
                .chain(["::1".to_owned()]),
        )
        .with_allowed_origins(origins)
        .with_sse_keep_alive(Some(Duration::from_secs(30)));
    let service = StreamableHttpService::new(
        move || Ok(Server::new(core.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    if let Some(b) = &opts.bound {
        b.store(port, std::sync::atomic::Ordering::SeqCst);
    }
    if opts.own_signals {
        eprintln!("grit: MCP over HTTP at http://127.0.0.1:{port}/mcp");
    }
    let token: Option<Arc<str>> = opts.token.as_deref().map(Arc::from);
    crate::serve::accept(listener, crate::serve::stop_signal(opts.own_signals), move || {
        let (service, token) = (service.clone(), token.clone());
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (service, token) = (service.clone(), token.clone());
            async move {
                if req.uri().path() != "/mcp" {
                    return Ok::<_, Infallible>(plain(StatusCode::NOT_FOUND, "not found: the MCP endpoint is /mcp"));
                }
                if let Some(t) = &token {
                    let given = req
                        .headers()
                        .get(hyper::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "));
                    if !given.is_some_and(|g| same_secret(g.as_bytes(), t.as_bytes())) {
                        let mut r = plain(StatusCode::UNAUTHORIZED, "a bearer token is required");
                        r.headers_mut().insert(
                            hyper::header::WWW_AUTHENTICATE,
                            hyper::header::HeaderValue::from_static("Bearer"),
                        );
                        return Ok(r);
                    }
                }
                Ok(service.handle(req).await)
            }
        })
    })
    .await;
    Ok(())
}
