//! The HTTPS front end: TLS (a standard X.509 certificate), HTTP/1.1 with
//! hyper, per-source rate limits, body-size and time limits, JSON refusals.
//!
//! Request handling runs on the blocking pool (SQLite and the share's point
//! multiplication), never on the async workers. Logs carry the method, path,
//! source, status and refusal code: never a body, a header or a token.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::api::ErrorCode;
use crate::service::{ApiError, Dta};

/// The service's limits.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// The largest request body, in bytes. Default 16 KiB.
    pub max_body: usize,
    /// Requests per second per source address (token bucket refill). Default 10.
    pub rate_per_sec: f64,
    /// Burst per source address (token bucket size). Default 30.
    pub rate_burst: f64,
    /// TLS handshake budget. Default 10 s.
    pub handshake_timeout: Duration,
    /// Budget for reading a request's headers. Default 10 s.
    pub header_timeout: Duration,
    /// Budget for a whole connection (keep-alive included). Default 60 s.
    pub connection_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog. Default 256.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 16 * 1024,
            rate_per_sec: 10.0,
            rate_burst: 30.0,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

/// Per-source token buckets, bounded in size.
#[derive(Debug)]
struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

const MAX_BUCKETS: usize = 65_536;

impl RateLimiter {
    fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return false;
        };
        if b.len() >= MAX_BUCKETS && !b.contains_key(&ip) {
            // Forget full buckets (sources idle long enough to be refilled).
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
            if b.len() >= MAX_BUCKETS {
                return false;
            }
        }
        let (tokens, at) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Serves the D-TA on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    dta: Arc<Dta>,
    limits: Limits,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let limiter = Arc::new(RateLimiter {
        rate: limits.rate_per_sec,
        burst: limits.rate_burst.max(1.0),
        buckets: Mutex::new(HashMap::new()),
    });
    loop {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let dta = dta.clone();
        let limiter = limiter.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(source = %peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(source = %peer, "TLS handshake timed out");
                        return;
                    }
                };
            let service = service_fn(move |req| {
                let dta = dta.clone();
                let limiter = limiter.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, dta, limiter, limits).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(tls), service);
            if tokio::time::timeout(limits.connection_timeout, conn)
                .await
                .is_err()
            {
                tracing::debug!(source = %peer, "connection closed at its time limit");
            }
        });
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn refusal(e: &ApiError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json(status, &e.body())
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?;
    Some(t.trim().to_owned())
}

async fn body<T: DeserializeOwned>(req: Request<Incoming>, max: usize) -> Result<T, ApiError> {
    let collected = Limited::new(req.into_body(), max)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::new(
                    ErrorCode::BodyTooLarge,
                    format!("the request body is larger than {max} bytes"),
                )
            } else {
                ApiError::new(ErrorCode::BadRequest, "the request body could not be read")
            }
        })?;
    let bytes = collected.to_bytes();
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the request body is not the expected JSON: {e}"),
        )
    })
}

fn query_u64(req: &Request<Incoming>, key: &str) -> Option<u64> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            ErrorCode::Internal,
            "the request failed internally",
        ))
    })
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    dta: Arc<Dta>,
    limiter: Arc<RateLimiter>,
    limits: Limits,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = if limiter.allow(peer.ip()) {
        route(req, peer, dta, limits).await
    } else {
        Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many requests from this address; retry in a few seconds",
        ))
    };
    let response = response.unwrap_or_else(|e| {
        tracing::info!(source = %peer.ip(), %method, %path, code = %e.code, "refused");
        refusal(&e)
    });
    tracing::info!(source = %peer.ip(), %method, %path, status = response.status().as_u16(), "request");
    response
}

async fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    dta: Arc<Dta>,
    limits: Limits,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let source = peer.ip().to_string();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    let ok = |v: &dyn erased::Json| Ok(v.response(StatusCode::OK));
    let known = [
        "/v1/info",
        "/v1/enrol",
        "/v1/renew",
        "/v1/admin/enrolments",
        "/v1/admin/revoke",
        "/v1/admin/server-secret",
        "/v1/admin/p2p-server-key",
        "/v1/admin/audit",
    ];
    if path.starts_with("/v1/admin/") && known.contains(&path.as_str()) {
        let token = bearer(&req);
        let d = dta.clone();
        let (s, p) = (source.clone(), path.clone());
        blocking(move || d.check_operator(&s, &p, token.as_deref())).await?;
    }
    match (&method, path.as_str()) {
        (&Method::GET, "/v1/info") => ok(&dta.info()),
        (&Method::POST, "/v1/enrol") => {
            let r: crate::api::EnrolRequest = body(req, limits.max_body).await?;
            ok(&blocking(move || dta.enrol(&source, &r)).await?)
        }
        (&Method::POST, "/v1/renew") => {
            let cred = bearer(&req);
            let r: crate::api::RenewRequest = body(req, limits.max_body).await?;
            ok(&blocking(move || dta.renew(&source, cred.as_deref(), &r)).await?)
        }
        (&Method::POST, "/v1/admin/enrolments") => {
            let r: crate::api::CreateEnrolment = body(req, limits.max_body).await?;
            Ok(blocking(move || dta.create_enrolment(&source, &r))
                .await?
                .response(StatusCode::CREATED))
        }
        (&Method::GET, "/v1/admin/enrolments") => ok(&blocking(move || dta.list()).await?),
        (&Method::POST, "/v1/admin/revoke") => {
            let r: crate::api::RevokeRequest = body(req, limits.max_body).await?;
            ok(&blocking(move || dta.revoke(&source, &r)).await?)
        }
        (&Method::POST, "/v1/admin/server-secret") => {
            ok(&blocking(move || dta.server_secret(&source)).await?)
        }
        (&Method::POST, "/v1/admin/p2p-server-key") => {
            let r: crate::api::P2pServerKeyRequest = body(req, limits.max_body).await?;
            ok(&blocking(move || dta.p2p_server_key(&source, &r)).await?)
        }
        (&Method::GET, "/v1/admin/audit") => {
            let after = query_u64(&req, "after").unwrap_or(0);
            let limit = query_u64(&req, "limit").unwrap_or(1000);
            ok(&blocking(move || dta.audit_page(after, limit)).await?)
        }
        (_, p) if known.contains(&p) => Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on {p}"),
        )),
        (_, p) => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no endpoint {p}"),
        )),
    }
}

mod erased {
    use super::*;

    /// Any serialisable response value.
    pub(super) trait Json {
        fn response(&self, status: StatusCode) -> Response<Full<Bytes>>;
    }

    impl<T: Serialize> Json for T {
        fn response(&self, status: StatusCode) -> Response<Full<Bytes>> {
            json(status, self)
        }
    }
}

use erased::Json as _;
