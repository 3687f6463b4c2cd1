//! WebSocket (RFC 6455): the HTTP upgrade that opens a connection, and the
//! frames that carry the signaling messages over it.
//!
//! # The upgrade
//!
//! The client's first application data is a browser's `GET` with
//! `Upgrade: websocket` and a random 16-byte `Sec-WebSocket-Key`
//! ([`upgrade_request`], 524 bytes). The server
//! answers `101 Switching Protocols` with `Sec-WebSocket-Accept`, the
//! base64 SHA-1 of the key and the RFC's GUID ([`switching_protocols`],
//! 129 bytes), or refuses with API Gateway's throttling answer, `429 Too Many
//! Requests` ([`too_many_requests`], 117 bytes). The client checks the accept value.
//!
//! # Frames
//!
//! A frame is a 2-byte header (FIN, RSV, opcode; MASK, 7-bit length), then
//! a 16-bit or 64-bit extended length for payloads of 126 bytes or more,
//! then, on client-to-server frames only, a 4-byte masking key, then the
//! payload, XORed with the key when masked. [`Frame::header_len`] is
//! therefore 2 to 14 bytes. A server must refuse unmasked frames and a
//! client masked ones; both are malformed here.
//!
//! # Implementation notes
//!
//! - No extensions are negotiated (API Gateway does not accept the
//!   browser's `permessage-deflate` offer), so the RSV bits must be zero.
//! - Messages are never fragmented: a frame without FIN, or a continuation
//!   frame, is malformed. Every signaling message fits one frame.
//!
//! Parsing never panics: [`Frame::parse`] checks every length before it
//! reads.

/// The host of the seed's API Gateway WebSocket URL.
pub const HOST: &str = "your-api-id.execute-api.us-east-1.amazonaws.com";
/// The stage the seed deploys to.
pub const PATH: &str = "/prod";
/// Where the seed's browser example is served from.
pub const ORIGIN: &str = "http://localhost:8000";
/// RFC 6455's GUID, appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The bytes are not a frame, or not an upgrade message, this model
/// accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// A UTF-8 text message (every signaling message).
    Text = 0x1,
    /// A binary message.
    Binary = 0x2,
    /// The closing handshake: a status code and a reason.
    Close = 0x8,
    /// A keep-alive request.
    Ping = 0x9,
    /// A keep-alive answer.
    Pong = 0xA,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// One frame, with its payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What it carries.
    pub opcode: Opcode,
    /// The masking key: `Some` on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload, in the clear.
    pub payload: Vec<u8>,
}

/// Close status 1000: the purpose of the connection is fulfilled.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close status 1001: the endpoint is going away (API Gateway closes idle
/// connections with it).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close status 1008: the endpoint's policy refuses the connection (here:
/// another connection joined with the same id).
pub const CLOSE_POLICY: u16 = 1008;

impl Frame {
    /// A text frame.
    pub fn text(payload: Vec<u8>, mask: Option<[u8; 4]>) -> Frame {
        Frame {
            opcode: Opcode::Text,
            mask,
            payload,
        }
    }

    /// A close frame with status `code` and no reason.
    pub fn close(code: u16, mask: Option<[u8; 4]>) -> Frame {
        Frame {
            opcode: Opcode::Close,
            mask,
            payload: code.to_be_bytes().to_vec(),
        }
    }

    /// A close frame's status code (`None` if it carries none, or is not a
    /// close frame).
    pub fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.as_slice()) {
            (Opcode::Close, [high, low, ..]) => Some(u16::from_be_bytes([*high, *low])),
            _ => None,
        }
    }

    /// The header's length: 2 bytes, the extended length, the masking key.
    pub fn header_len(&self) -> usize {
        let extended = match self.payload.len() {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + extended + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The frame's length on the wire.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Appends the frame to `out`, masking the payload if it has a key.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(0x80 | self.opcode as u8);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload.len();
        match len {
            0..=125 => out.push(mask_bit | len as u8),
            126..=0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(
                    self.payload
                        .iter()
                        .zip(key.iter().cycle())
                        .map(|(b, k)| b ^ k),
                );
            }
            None => out.extend_from_slice(&self.payload),
        }
    }

    /// The frame at the start of `bytes` and its length on the wire.
    pub fn parse(bytes: &[u8]) -> Result<(Frame, usize), Malformed> {
        let [first, second, ..] = *bytes else {
            return Err(Malformed);
        };
        let fin = first & 0x80 != 0;
        let opcode = Opcode::from_bits(first & 0x0F).ok_or(Malformed)?;
        if !fin || first & 0x70 != 0 {
            return Err(Malformed);
        }
        let mut pos = 2;
        let len = match second & 0x7F {
            126 => {
                let len = u16::from_be_bytes(take(bytes, &mut pos)?);
                // RFC 6455 §5.2: the minimal number of bytes must be used.
                if len < 126 {
                    return Err(Malformed);
                }
                usize::from(len)
            }
            127 => {
                let len = u64::from_be_bytes(take(bytes, &mut pos)?);
                if len <= 0xFFFF {
                    return Err(Malformed);
                }
                usize::try_from(len).map_err(|_| Malformed)?
            }
            len => usize::from(len),
        };
        if opcode.is_control() && len > 125 {
            return Err(Malformed);
        }
        let mask = if second & 0x80 != 0 {
            Some(take::<4>(bytes, &mut pos)?)
        } else {
            None
        };
        let end = pos.checked_add(len).ok_or(Malformed)?;
        let payload = bytes.get(pos..end).ok_or(Malformed)?;
        let payload = match mask {
            Some(key) => payload
                .iter()
                .zip(key.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect(),
            None => payload.to_vec(),
        };
        if opcode == Opcode::Close && payload.len() == 1 {
            return Err(Malformed);
        }
        Ok((
            Frame {
                opcode,
                mask,
                payload,
            },
            end,
        ))
    }
}

/// Every frame in `bytes`, which must hold whole frames, all masked (from a
/// client) or all unmasked (from a server).
pub fn frames(mut bytes: &[u8], masked: bool) -> Result<Vec<Frame>, Malformed> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (frame, len) = Frame::parse(bytes)?;
        if frame.mask.is_some() != masked {
            return Err(Malformed);
        }
        frames.push(frame);
        bytes = &bytes[len..];
    }
    Ok(frames)
}

fn take<const N: usize>(bytes: &[u8], pos: &mut usize) -> Result<[u8; N], Malformed> {
    let field = bytes.get(*pos..*pos + N).ok_or(Malformed)?;
    *pos += N;
    let mut out = [0; N];
    out.copy_from_slice(field);
    Ok(out)
}

/// A `Sec-WebSocket-Key`: 16 random bytes in base64.
pub fn new_key(random: [u8; 16]) -> String {
    base64(&random)
}

/// The `Sec-WebSocket-Accept` value for `key`.
pub fn accept_key(key: &str) -> String {
    base64(&sha1(format!("{key}{GUID}").as_bytes()))
}

/// The browser's upgrade request, as Chrome sends it for `new WebSocket(url)`.
pub fn upgrade_request(key: &str) -> Vec<u8> {
    format!(
        "GET {PATH} HTTP/1.1\r\n\
         Host: {HOST}\r\n\
         Connection: Upgrade\r\n\
         Pragma: no-cache\r\n\
         Cache-Control: no-cache\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\n\
         Origin: {ORIGIN}\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         \r\n"
    )
    .into_bytes()
}

/// The server's acceptance of an upgrade with `key`.
pub fn switching_protocols(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Connection: upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\
         \r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// The status API Gateway refuses a connection over its limit with.
pub const TOO_MANY_REQUESTS: u16 = 429;

/// API Gateway's refusal of a connection over its limit.
pub fn too_many_requests() -> Vec<u8> {
    let body = r#"{"message":"Too Many Requests"}"#;
    format!(
        "HTTP/1.1 429 Too Many Requests\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

/// The key of a valid upgrade request.
pub fn parse_upgrade_request(bytes: &[u8]) -> Result<String, Malformed> {
    let message = HttpMessage::parse(bytes)?;
    let mut start = message.start.split(' ');
    let (Some("GET"), Some(path), Some("HTTP/1.1"), None) =
        (start.next(), start.next(), start.next(), start.next())
    else {
        return Err(Malformed);
    };
    let has = |name: &str, token: &str| {
        message
            .header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let key = message.header("sec-websocket-key").ok_or(Malformed)?;
    if !path.starts_with('/')
        || !message.body.is_empty()
        || message.header("host").is_none()
        || !has("upgrade", "websocket")
        || !has("connection", "upgrade")
        || message.header("sec-websocket-version") != Some("13")
        || key.len() != 24
    {
        return Err(Malformed);
    }
    Ok(key.to_owned())
}

/// How the server answered an upgrade with `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpgradeResponse {
    /// 101 with the right accept value: the connection is a WebSocket.
    Switched,
    /// Any other status.
    Refused(u16),
}

/// The server's answer to an upgrade request sent with `key`.
pub fn parse_upgrade_response(bytes: &[u8], key: &str) -> Result<UpgradeResponse, Malformed> {
    let message = HttpMessage::parse(bytes)?;
    let mut start = message.start.splitn(3, ' ');
    let (Some("HTTP/1.1"), Some(status), Some(_reason)) =
        (start.next(), start.next(), start.next())
    else {
        return Err(Malformed);
    };
    let status: u16 = status.parse().map_err(|_| Malformed)?;
    if status != 101 {
        return Ok(UpgradeResponse::Refused(status));
    }
    if message.header("sec-websocket-accept") != Some(accept_key(key).as_str())
        || !message
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return Err(Malformed);
    }
    Ok(UpgradeResponse::Switched)
}

/// An HTTP/1.1 message, split.
struct HttpMessage<'a> {
    /// The request or status line.
    start: &'a str,
    /// Header names and values.
    headers: Vec<(&'a str, &'a str)>,
    body: &'a str,
}

impl<'a> HttpMessage<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, Malformed> {
        let text = std::str::from_utf8(bytes).map_err(|_| Malformed)?;
        let (head, body) = text.split_once("\r\n\r\n").ok_or(Malformed)?;
        let mut lines = head.split("\r\n");
        let start = lines.next().ok_or(Malformed)?;
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').ok_or(Malformed)?;
                Ok((name, value.trim()))
            })
            .collect::<Result<_, _>>()?;
        Ok(HttpMessage {
            start,
            headers,
            body,
        })
    }

    /// The value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-1 (FIPS 180-4), which the accept value needs and no dependency of
/// this crate provides.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for t in 16..80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (t, &word) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let next = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(word);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, next);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut digest = [0; 20];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(h) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_rfcs_handshake_example() {
        // RFC 6455 §1.3.
        let key = new_key(*b"the sample nonce");
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept_key(&key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            sha1(b"abc"),
            [
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
    }

    #[test]
    fn the_upgrade_round_trips() {
        let key = new_key([7; 16]);
        let request = upgrade_request(&key);
        assert_eq!(request.len(), 524);
        assert_eq!(parse_upgrade_request(&request), Ok(key.clone()));
        let response = switching_protocols(&key);
        assert_eq!(response.len(), 129);
        assert_eq!(
            parse_upgrade_response(&response, &key),
            Ok(UpgradeResponse::Switched)
        );
        // An accept value for another key is refused.
        assert_eq!(
            parse_upgrade_response(&response, &new_key([8; 16])),
            Err(Malformed)
        );
        assert_eq!(
            parse_upgrade_response(&too_many_requests(), &key),
            Ok(UpgradeResponse::Refused(TOO_MANY_REQUESTS))
        );
        assert_eq!(
            parse_upgrade_request(b"GET / HTTP/1.1\r\n\r\n"),
            Err(Malformed)
        );
    }

    #[test]
    fn a_masked_frame_on_the_wire() {
        // RFC 6455 §5.7: a masked "Hello".
        let frame = Frame::text(b"Hello".to_vec(), Some([0x37, 0xfa, 0x21, 0x3d]));
        let mut bytes = Vec::new();
        frame.emit(&mut bytes);
        assert_eq!(
            bytes,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        assert_eq!(Frame::parse(&bytes), Ok((frame, 11)));
        assert_eq!(frames(&bytes, false), Err(Malformed));
    }

    #[test]
    fn lengths_use_the_smallest_encoding() {
        for (len, header) in [(125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let frame = Frame::text(vec![b'x'; len], None);
            assert_eq!(frame.header_len(), header);
            let mut bytes = Vec::new();
            frame.emit(&mut bytes);
            assert_eq!(bytes.len(), frame.buffer_len());
            assert_eq!(Frame::parse(&bytes), Ok((frame, bytes.len())));
        }
        // 5 bytes announced with a 16-bit length.
        assert_eq!(
            Frame::parse(&[0x81, 126, 0, 5, 1, 2, 3, 4, 5]),
            Err(Malformed)
        );
    }

    fn opcode() -> impl Strategy<Value = Opcode> {
        prop_oneof![
            Just(Opcode::Text),
            Just(Opcode::Binary),
            Just(Opcode::Close),
            Just(Opcode::Ping),
            Just(Opcode::Pong)
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(
            opcode in opcode(),
            mask in proptest::option::of(any::<[u8; 4]>()),
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
        ) {
            let mut payload = payload;
            if opcode.is_control() {
                payload.truncate(125);
                if opcode == Opcode::Close && payload.len() == 1 {
                    payload.push(0);
                }
            }
            let frame = Frame { opcode, mask, payload };
            let mut bytes = Vec::new();
            frame.emit(&mut bytes);
            prop_assert_eq!(bytes.len(), frame.buffer_len());
            if let Some(key) = mask.filter(|k| *k != [0; 4]) {
                // Masked bytes differ from the payload where the key is not 0.
                let on_wire = &bytes[frame.header_len()..];
                for (i, (w, p)) in on_wire.iter().zip(&frame.payload).enumerate() {
                    prop_assert_eq!(*w, p ^ key[i % 4]);
                }
            }
            prop_assert_eq!(frames(&bytes, mask.is_some()), Ok(vec![frame.clone()]));
            // Cut short, the frame is refused rather than misread.
            let cut = bytes.len() / 2;
            prop_assert!(cut == 0 || Frame::parse(&bytes[..cut]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = frames(&bytes, true);
            let _ = frames(&bytes, false);
            let _ = parse_upgrade_request(&bytes);
            let _ = parse_upgrade_response(&bytes, "key");
        }
    }
}
