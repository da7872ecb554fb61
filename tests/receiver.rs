//! A real HTTP server on 127.0.0.1 that receives what Tessera sends out (webhooks): it keeps
//! every request and answers each with the next status it was told to give, else 200. Shared
//! by the end-to-end suites and the server's crash test.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// The `Idempotency-Key` header.
    pub key: Option<String>,
    pub content_type: Option<String>,
    pub body: serde_json::Value,
    /// The status it was answered with.
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    statuses: VecDeque<u16>,
}

pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1 until the process ends.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = accepting.clone();
                std::thread::spawn(move || answer(stream, &shared));
            }
        });
        Receiver { addr, shared }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next `count` requests are answered with `status`.
    pub fn answer_next(&self, count: usize, status: u16) {
        self.shared.lock().unwrap().statuses.extend(std::iter::repeat_n(status, count));
    }

    /// Every request so far, in the order they came.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }
}

/// Reads one request from `stream`, notes it and answers it; a connection that breaks off is
/// dropped, as its sender will try again.
fn answer(stream: TcpStream, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let (mut length, mut key, mut content_type) = (0, None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { continue };
        let value = value.trim().to_owned();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "idempotency-key" => key = Some(value),
            "content-type" => content_type = Some(value),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let status = {
        let mut shared = shared.lock().unwrap();
        let status = shared.statuses.pop_front().unwrap_or(200);
        let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        shared.received.push(Received { path, key, content_type, body, status });
        status
    };
    let mut stream = stream;
    let _ = write!(stream, "HTTP/1.1 {status} Answer\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}
