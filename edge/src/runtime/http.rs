//! `/healthz` and `/metrics` on a small blocking HTTP server (its own thread).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Response, Server};

use super::error::{Error, Result};
use super::metrics::{Health, Metrics};
use super::outbox::Outbox;

/// Start serving on `listen` until `shutdown` is set. Returns the bound address (port 0 picks
/// one) and the thread.
pub fn serve(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    outbox: Arc<Outbox>,
    shutdown: Arc<AtomicBool>,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let server = Server::http(listen)
        .map_err(|e| Error::config(format!("http.listen {listen}"), e.to_string()))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Error::config("http.listen", "not an IP address"))?;
    let handle = std::thread::Builder::new()
        .name("hsi-http".into())
        .spawn(move || {
            while !shutdown.load(Ordering::Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(200)) else {
                    continue;
                };
                let path = req.url().split('?').next().unwrap_or("").to_owned();
                let response = match path.as_str() {
                    "/metrics" => {
                        metrics.observe_outbox(&outbox.stats());
                        text(
                            200,
                            metrics.render(),
                            "text/plain; version=0.0.4; charset=utf-8",
                        )
                    }
                    "/healthz" => {
                        let s = outbox.stats();
                        let (code, status) = match health.check(s.backpressure) {
                            Ok(()) => (200, "ok".to_owned()),
                            Err(why) => (503, why),
                        };
                        let body = serde_json::json!({
                            "status": status,
                            "outbox_chunks_pending": s.chunks_pending,
                            "outbox_bytes": s.bytes(),
                            "backpressure": s.backpressure,
                        });
                        text(code, body.to_string(), "application/json")
                    }
                    _ => text(404, "not found\n".into(), "text/plain"),
                };
                let _ = req.respond(response);
            }
        })
        .map_err(|e| Error::io("hsi-http thread", e))?;
    Ok((bound, handle))
}

fn text(code: u16, body: String, content_type: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        r = r.with_header(h);
    }
    r
}
