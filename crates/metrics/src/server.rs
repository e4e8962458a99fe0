//! The HTTP exposition server: `/metrics`, `/` and `/healthz`.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::web::WebConfig;
use crate::{Metrics, MetricsError, VERSION};

/// Default listen address of the metrics server: loopback only, so exposing
/// metrics to the network is an explicit operator decision.
///
/// Port 9874 was checked against the Prometheus "Default port allocations"
/// wiki page (<https://github.com/prometheus/prometheus/wiki/Default-port-allocations>),
/// read from stored copies (the live page could not be fetched): the newest
/// copy allocates 9100-9745 in sequence, then marks everything up to 9900 as
/// "FREE" (next entries 9901 Envoy, 9911 Skipper, 9913 Nginx VTS); 9873,
/// 9874 and 9875 appear nowhere on it, and the nearest listed port is 9876
/// (Sachet, in the "outside the standard ranges" table). Outside the
/// Prometheus list, 9874 is also the default HTTP port of the Apache Ozone
/// Manager; an operator running both must move one of them.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9874";

/// Content type of the Prometheus text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long [`serve`] waits for open connections after the shutdown signal
/// before returning anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The answer of the health check served at `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Everything is working: `200 ok`.
    Healthy,
    /// Something is wrong (e.g. a capture is not open): `503` with the reason.
    Unhealthy(String),
}

impl Health {
    /// An unhealthy answer with `reason`.
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        Health::Unhealthy(reason.into())
    }
    /// Whether this is [`Health::Healthy`].
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }
}

/// Computes the current health on every `/healthz` request. It must be quick
/// and must not block (it runs on the server's async runtime).
pub type HealthFn = Arc<dyn Fn() -> Health + Send + Sync>;

/// A [`HealthFn`] based on the capture-health metrics: unhealthy while any
/// interface registered with [`Metrics::interface`] has
/// `tamperwatch_capture_up` 0, naming those interfaces; healthy when all are
/// up (or none is registered, as in a replay).
pub fn capture_health(metrics: Arc<Metrics>) -> HealthFn {
    Arc::new(move || {
        let down: Vec<String> = metrics
            .interfaces()
            .into_iter()
            .filter(|i| !i.is_up())
            .map(|i| i.name().to_owned())
            .collect();
        if down.is_empty() {
            Health::Healthy
        } else {
            Health::Unhealthy(format!("capture not up on: {}", down.join(", ")))
        }
    })
}

/// Binds the metrics listen address, with a clear error when it is taken.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            MetricsError::AddrInUse { addr, source }
        } else {
            MetricsError::Bind { addr, source }
        }
    })
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: HealthFn,
}

/// The routes of the metrics server, for embedding in another server;
/// [`serve`] uses it.
pub fn router(metrics: Arc<Metrics>, health: HealthFn) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(AppState { metrics, health })
}

/// Serves `GET /metrics`, `GET /` and `GET /healthz` on `listener` until
/// `shutdown` completes, then stops accepting, lets open requests finish and
/// returns (after at most [`SHUTDOWN_GRACE`] more).
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: HealthFn,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MetricsError> {
    serve_with_grace(listener, metrics, health, shutdown, SHUTDOWN_GRACE).await
}

/// [`serve`] with TLS and basic authentication as `web` says (the
/// exporter-toolkit web configuration file, see [`crate::web`]).
pub async fn serve_web(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: HealthFn,
    shutdown: impl Future<Output = ()> + Send + 'static,
    web: Option<WebConfig>,
) -> Result<(), MetricsError> {
    let Some(web) = web else {
        return serve(listener, metrics, health, shutdown).await;
    };
    let mut app = router(metrics.clone(), health.clone());
    if web.basic_auth() {
        app = app.layer(axum::middleware::from_fn_with_state(
            web.clone(),
            basic_auth,
        ));
    }
    if !web.headers.is_empty() {
        let headers = web.headers.clone();
        app = app.layer(axum::middleware::map_response(move |mut r: Response| {
            let headers = headers.clone();
            async move {
                for (k, v) in headers.iter() {
                    r.headers_mut().insert(k.clone(), v.clone());
                }
                r
            }
        }));
    }
    let Some(tls) = web.tls.clone() else {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, basic_auth = web.basic_auth(), "serving metrics on http://{addr}/metrics");
        }
        return serve_router(listener, app, shutdown, SHUTDOWN_GRACE).await;
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, basic_auth = web.basic_auth(), "serving metrics on https://{addr}/metrics");
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // out of file descriptors and the like: keep serving
                    tracing::warn!(error = %e, "metrics server: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "metrics server: TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "metrics server: connection ended");
            }
        });
    }
    Ok(())
}

/// Rejects requests without the configured user and password (401 with a
/// `WWW-Authenticate` challenge, like the exporter-toolkit).
async fn basic_auth(
    State(web): State<WebConfig>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // bcrypt is slow on purpose: off the async threads, two at a time
    // (credentials that passed before skip it)
    let ok = if web.known(header.as_deref()) {
        true
    } else {
        match web.checks.clone().acquire_owned().await {
            Ok(permit) => tokio::task::spawn_blocking(move || {
                let _permit = permit;
                web.authorized(header.as_deref())
            })
            .await
            .unwrap_or(false),
            Err(_) => false,
        }
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic")],
            "Unauthorized\n",
        )
            .into_response()
    }
}

pub(crate) async fn serve_with_grace(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: HealthFn,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace_period: Duration,
) -> Result<(), MetricsError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics on http://{addr}/metrics");
    }
    serve_router(listener, router(metrics, health), shutdown, grace_period).await
}

async fn serve_router(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace_period: Duration,
) -> Result<(), MetricsError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    let grace = async {
        match rx.await {
            Ok(()) => tokio::time::sleep(grace_period).await,
            // The server ended on its own: let the other branch win.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = server => r.map_err(MetricsError::Serve),
        () = grace => {
            tracing::warn!("metrics server: connections still open {grace_period:?} after shutdown, closing");
            Ok(())
        }
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    let body = s.metrics.render();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    match (s.health)() {
        Health::Healthy => (StatusCode::OK, "ok\n").into_response(),
        Health::Unhealthy(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {reason}\n"),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn landing(State(s): State<AppState>) -> Html<String> {
    let vantage = match s.metrics.vantage() {
        Some(v) => format!(
            "<p>Vantage: {} ({}, {})</p>\n",
            escape_html(&v.vantage),
            escape_html(&v.country),
            escape_html(&v.network)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>tamperwatch</title></head>\n\
         <body>\n<h1>tamperwatch</h1>\n<p>Passive network-interference detector, version {VERSION}.</p>\n\
         {vantage}<ul>\n<li><a href=\"metrics\">Metrics</a> (Prometheus text format)</li>\n\
         <li><a href=\"healthz\">Health</a></li>\n</ul>\n</body>\n</html>\n"
    ))
}
