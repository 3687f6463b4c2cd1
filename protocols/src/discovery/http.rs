//! HTTP/1.1 messages (RFC 9112) as a browser's `fetch` sends them to the
//! registry's API Gateway stage, and as the gateway answers.
//!
//! A request is a request line (`POST /dev/register HTTP/1.1`; the seeds'
//! URLs end in the `dev` stage), the headers Chrome sends with a
//! cross-origin `fetch` from the seed's demo page at
//! `http://localhost:8080`, `Content-Length` and `Content-Type` when it has
//! a JSON body, and [`REQUEST_ID`]; a response is a status line, the
//! gateway's headers (`Date` from virtual time, CORS), `Content-Length`, the
//! echoed [`REQUEST_ID`] and a JSON body.
//!
//! [`REQUEST_ID`] stands in for what matches responses to requests on a
//! real connection: TCP's ordered delivery, which the simulated datagrams
//! do not have.
//!
//! Parsing reads the start line, `Content-Length` and [`REQUEST_ID`],
//! ignores the other headers, and needs the body to be exactly
//! `Content-Length` bytes: a datagram carries one whole message. It never
//! panics; anything it cannot read is an [`Error`]. Requests are parsed all
//! the way to a [`Request`]; response bodies are returned as bytes for the
//! client to decode as the endpoint it called.

use sim_core::Instant;

use super::api::{to_json, HeartbeatRequest, RegisterRequest, Request};
use super::clock;

/// The gateway's host: the seeds' `{api-id}.execute-api.us-east-1.amazonaws.com`.
pub const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
/// The API stage every path starts with (the seeds deploy `dev`).
pub const STAGE: &str = "/dev";
/// The header that pairs a response with its request.
pub const REQUEST_ID: &str = "X-Request-Id";

/// Status 200.
pub const OK: u16 = 200;
/// Status 404: a heartbeat for a peer the registry does not hold.
pub const NOT_FOUND: u16 = 404;
/// Status 503: the queue was full.
pub const SERVICE_UNAVAILABLE: u16 = 503;

/// The headers of Chrome's cross-origin `fetch` that do not depend on the
/// request, in Chrome's order, between `Host`/`Connection` and `Accept`.
const BROWSER_HEADERS: &str = "sec-ch-ua-platform: \"Linux\"\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n";

/// Chrome's headers after `Accept`.
const BROWSER_TRAILING_HEADERS: &str = "Origin: http://localhost:8080\r\n\
Sec-Fetch-Site: cross-site\r\n\
Sec-Fetch-Mode: cors\r\n\
Sec-Fetch-Dest: empty\r\n\
Referer: http://localhost:8080/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n";

/// A response, as the server sends it and the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The [`REQUEST_ID`] of the request it answers.
    pub id: u64,
    /// The status code.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Why bytes are not an HTTP message of this API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No blank line ends the head.
    #[error("HTTP head not terminated")]
    Truncated,
    /// The head is not text.
    #[error("HTTP head not UTF-8")]
    NotText,
    /// The request or status line is malformed.
    #[error("HTTP start line malformed")]
    StartLine,
    /// A header is malformed, or one this parser reads is repeated or
    /// unreadable.
    #[error("HTTP header malformed")]
    Header,
    /// The body is not `Content-Length` bytes long.
    #[error("HTTP body length disagrees with Content-Length")]
    Length,
    /// No request id header.
    #[error("HTTP message without a request id")]
    RequestId,
    /// Not one of the API's four endpoints (or a GET with a body).
    #[error("not an endpoint of the registry")]
    Route,
    /// The query string is not percent-encoded UTF-8.
    #[error("query string malformed")]
    Query,
    /// The body is not the endpoint's JSON.
    #[error("JSON body malformed")]
    Json,
}

/// The bytes of request `id`.
pub fn emit_request(id: u64, request: &Request) -> Vec<u8> {
    let (method, target, body) = match request {
        Request::Register(body) => ("POST", "/register".to_string(), Some(to_json(body))),
        Request::Heartbeat(body) => ("POST", "/heartbeat".to_string(), Some(to_json(body))),
        Request::Discover { archetype: None } => ("GET", "/discover".to_string(), None),
        Request::Discover {
            archetype: Some(archetype),
        } => (
            "GET",
            format!("/discover?archetype={}", percent_encode(archetype)),
            None,
        ),
        Request::Health => ("GET", "/health".to_string(), None),
    };
    let mut head =
        format!("{method} {STAGE}{target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: keep-alive\r\n");
    if let Some(body) = &body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str(BROWSER_HEADERS);
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("{REQUEST_ID}: {id}\r\nAccept: */*\r\n"));
    head.push_str(BROWSER_TRAILING_HEADERS);
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_deref().unwrap_or_default());
    bytes
}

/// The bytes of `response`, sent at `at` (its `Date`).
pub fn emit_response(response: &Response, at: Instant) -> Vec<u8> {
    let reason = match response.status {
        OK => "OK",
        NOT_FOUND => "Not Found",
        SERVICE_UNAVAILABLE => "Service Unavailable",
        _ => "Unknown",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nDate: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: keep-alive\r\nAccess-Control-Allow-Origin: *\r\n\
         {REQUEST_ID}: {}\r\n\r\n",
        response.status,
        clock::http_date(at),
        response.body.len(),
        response.id
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    bytes
}

/// Reads a request: its id and what it asks.
pub fn parse_request(bytes: &[u8]) -> Result<(u64, Request), Error> {
    let message = Message::parse(bytes)?;
    let mut parts = message.start_line.split(' ');
    let (Some(method), Some(target), Some("HTTP/1.1"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::StartLine);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let endpoint = path.strip_prefix(STAGE).ok_or(Error::Route)?;
    let body = message.body;
    let request = match (method, endpoint) {
        ("POST", "/register") => Request::Register(from_json::<RegisterRequest>(body)?),
        ("POST", "/heartbeat") => Request::Heartbeat(from_json::<HeartbeatRequest>(body)?),
        ("GET", "/discover") if body.is_empty() => Request::Discover {
            archetype: query_param(query, "archetype")?,
        },
        ("GET", "/health") if body.is_empty() => Request::Health,
        _ => return Err(Error::Route),
    };
    Ok((message.id, request))
}

/// Reads a response.
pub fn parse_response(bytes: &[u8]) -> Result<Response, Error> {
    let message = Message::parse(bytes)?;
    let rest = message
        .start_line
        .strip_prefix("HTTP/1.1 ")
        .ok_or(Error::StartLine)?;
    let (code, reason) = rest.split_at_checked(3).ok_or(Error::StartLine)?;
    if !(reason.is_empty() || reason.starts_with(' ')) || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::StartLine);
    }
    let status: u16 = code.parse().map_err(|_| Error::StartLine)?;
    if !(100..=599).contains(&status) {
        return Err(Error::StartLine);
    }
    Ok(Response {
        id: message.id,
        status,
        body: message.body.to_vec(),
    })
}

/// An HTTP message's parts this module reads.
struct Message<'a> {
    start_line: &'a str,
    id: u64,
    body: &'a [u8],
}

impl<'a> Message<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or(Error::Truncated)?;
        let head = std::str::from_utf8(&bytes[..end]).map_err(|_| Error::NotText)?;
        let body = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let start_line = lines.next().unwrap_or_default();
        let (mut content_length, mut id) = (None, None);
        for line in lines {
            let (name, value) = line.split_once(':').ok_or(Error::Header)?;
            let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(Error::Header);
            }
            let value = value.trim_matches([' ', '\t']);
            let slot = if name.eq_ignore_ascii_case("content-length") {
                &mut content_length
            } else if name.eq_ignore_ascii_case(REQUEST_ID) {
                &mut id
            } else {
                continue;
            };
            if slot.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Header);
            }
            *slot = Some(value.parse::<u64>().map_err(|_| Error::Header)?);
        }
        if content_length.unwrap_or(0) != body.len() as u64 {
            return Err(Error::Length);
        }
        Ok(Message {
            start_line,
            id: id.ok_or(Error::RequestId)?,
            body,
        })
    }
}

fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|_| Error::Json)
}

/// `text` with every byte outside RFC 3986's unreserved set as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first value of `name` in `query` (`a=1&b=2`), decoded (`%XX`, and
/// `+` for a space as forms write it).
fn query_param(query: &str, name: &str) -> Result<Option<String>, Error> {
    let Some(value) = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
    else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'%' => {
                let hex = rest.get(..2).ok_or(Error::Query)?;
                let digit = |h: u8| char::from(h).to_digit(16).ok_or(Error::Query);
                bytes.push(((digit(hex[0])? << 4) | digit(hex[1])?) as u8);
                rest = &rest[2..];
            }
            b'+' => bytes.push(b' '),
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map(Some).map_err(|_| Error::Query)
}
