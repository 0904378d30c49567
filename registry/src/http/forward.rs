//! Writes go to the leader: a write request that reaches an instance that
//! is not the leader is sent on to the leader as it came, and the leader's
//! answer goes back unchanged (status, content type, body), as Confluent's
//! instances forward to theirs. Reads are served by every instance.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::MAX_BODY;
use crate::election::Leader;
use crate::error::RegistryError;

/// Marks a forwarded request, so it is never forwarded twice (two
/// instances that each believe the other leads answer an error instead).
const FORWARDED: &str = "x-runnel-registry-forwarded";

/// How long a write waits for a leader to be known (an election under way).
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// How long the leader may take to answer a forwarded request.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// True for the requests that change the registry: every POST, PUT and
/// DELETE except a lookup (`POST /subjects/{s}`) and a compatibility
/// check (`POST /compatibility/...`), which only read.
fn is_write(method: &Method, path: &str) -> bool {
    if !matches!(*method, Method::POST | Method::PUT | Method::DELETE) {
        return false;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lookup = *method == Method::POST && segments.len() == 2 && segments[0] == "subjects";
    let check = segments.first() == Some(&"compatibility");
    !(lookup || check)
}

/// The middleware: serves a write here when this instance leads, else
/// forwards it.
pub async fn writes_to_leader(
    State(mut leader): State<watch::Receiver<Leader>>,
    req: Request,
    next: Next,
) -> Response {
    if !is_write(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let known = tokio::time::timeout(LEADER_WAIT, leader.wait_for(|l| *l != Leader::Unknown))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|l| l.clone());
    match known {
        Some(Leader::Me) => next.run(req).await,
        Some(Leader::Other(_)) if req.headers().contains_key(FORWARDED) => {
            RegistryError::NoLeader("forwarded to an instance that is not the leader".into())
                .into_response()
        }
        Some(Leader::Other(url)) => forward(&url, req)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Some(Leader::Unknown) | None => RegistryError::NoLeader(format!(
            "no leader elected within {}s (is coord reachable, and an eligible instance running?)",
            LEADER_WAIT.as_secs()
        ))
        .into_response(),
    }
}

/// Sends REQ to the leader at BASE (`http://host:port`) and returns its
/// answer; a body over the limit is refused here as the leader would.
async fn forward(base: &str, req: Request) -> Result<Response, RegistryError> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| RegistryError::BodyTooLarge(MAX_BODY))?;
    exchange(base, parts, body)
        .await
        .map_err(RegistryError::Forward)
}

/// One request to the leader; errs with a message naming what failed.
async fn exchange(
    base: &str,
    parts: axum::http::request::Parts,
    body: bytes::Bytes,
) -> Result<Response, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("the leader's URL {base} is not http://"))?
        .to_string();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .map_err(|e| e.to_string())?;
    let mut out = hyper::Request::builder()
        .method(parts.method)
        .uri(path)
        .header(header::HOST, authority.as_str())
        .header(FORWARDED, "1");
    for name in [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION] {
        if let Some(v) = parts.headers.get(&name) {
            out = out.header(name, v);
        }
    }
    let out = out.body(Full::new(body)).map_err(|e| e.to_string())?;

    let exchange = async {
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connecting to the leader at {base}: {e}"))?;
        stream.set_nodelay(true).ok();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("leader at {base}: {e}"))?;
        tokio::spawn(conn);
        let resp = sender
            .send_request(out)
            .await
            .map_err(|e| format!("leader at {base}: {e}"))?;
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| format!("reading the leader's answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((parts, bytes))
    };
    let (parts, bytes) = tokio::time::timeout(FORWARD_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("the leader at {base} did not answer within {FORWARD_TIMEOUT:?}"))??;
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = parts.status;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(super::CONTENT_TYPE));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_are_writes() {
        assert!(is_write(&Method::POST, "/subjects/s/versions"));
        assert!(is_write(&Method::DELETE, "/subjects/s"));
        assert!(is_write(&Method::DELETE, "/subjects/s/versions/1"));
        assert!(is_write(&Method::PUT, "/config"));
        assert!(is_write(&Method::PUT, "/mode/s"));
        assert!(!is_write(&Method::POST, "/subjects/s"));
        assert!(!is_write(
            &Method::POST,
            "/compatibility/subjects/s/versions/latest"
        ));
        assert!(!is_write(&Method::GET, "/subjects/s/versions"));
    }
}
