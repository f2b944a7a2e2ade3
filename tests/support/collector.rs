//! A loopback HTTP/1.1 server standing in for the Raceway server: it records every request to
//! `/events` and answers as the test tells it to (status, body, delay, connection reset).
//!
//! Written on std threads so it works the same whatever runtime (or none) the test uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `events` array of the body, as raw JSON values.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).expect("body is JSON");
        v["events"].as_array().expect("body has an events array").clone()
    }
}

/// What to do with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status and body.
    Status(u16, String),
    /// Wait, then answer.
    Delayed(Duration, u16, String),
    /// Close the connection without answering (after reading the request).
    Reset,
    /// Answer 200 with a body that is not JSON.
    Garbage,
}

impl Reply {
    pub fn ok(n: usize) -> Reply {
        Reply::Status(200, format!(r#"{{"success":true,"data":"Ingested {n} events","error":null}}"#))
    }
}

type Behaviour = Box<dyn FnMut(&Request, usize) -> Reply + Send>;

/// The collector. Dropping it stops accepting connections.
pub struct Collector {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<(Request, u16)>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
}

impl Collector {
    /// A collector that accepts everything with 200.
    pub fn start() -> Collector {
        Self::with(|req, _| Reply::ok(req.events().len()))
    }

    /// A collector answering with `behaviour(request, index_of_request)`.
    pub fn with(behaviour: impl FnMut(&Request, usize) -> Reply + Send + 'static) -> Collector {
        Self::bind("127.0.0.1:0".parse().unwrap(), Box::new(behaviour))
    }

    /// A collector on a given address (to restart one on the same port).
    pub fn bind(addr: SocketAddr, behaviour: Behaviour) -> Collector {
        let listener = TcpListener::bind(addr).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let c = Collector {
            addr,
            requests: Arc::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            stop: Arc::default(),
        };
        let (requests, behaviour, stop) = (c.requests.clone(), c.behaviour.clone(), c.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, b, s) = (requests.clone(), behaviour.clone(), stop.clone());
                        std::thread::spawn(move || serve(stream, r, b, s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        c
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_behaviour(&self, b: impl FnMut(&Request, usize) -> Reply + Send + 'static) {
        *self.behaviour.lock().unwrap() = Box::new(b);
    }

    /// Every request received, with the status it was answered.
    pub fn requests(&self) -> Vec<(Request, u16)> {
        self.requests.lock().unwrap().clone()
    }

    /// Events of the requests answered 2xx, in arrival order.
    pub fn accepted_events(&self) -> Vec<serde_json::Value> {
        self.requests().iter().filter(|(_, s)| (200..300).contains(s)).flat_map(|(r, _)| r.events()).collect()
    }

    /// Waits until `pred` holds for the accepted events, up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[serde_json::Value]) -> bool) -> bool {
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if pred(&self.accepted_events()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        pred(&self.accepted_events())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn serve(
    stream: TcpStream,
    requests: Arc<Mutex<Vec<(Request, u16)>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_request(&mut reader, &stop) {
            Some(r) => r,
            None => return,
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        let index = requests.lock().unwrap().len();
        let reply = (behaviour.lock().unwrap())(&req, index);
        let (status, body) = match reply {
            Reply::Status(s, b) => (s, b),
            Reply::Delayed(d, s, b) => {
                // Recorded on arrival: the client may give up before the answer.
                requests.lock().unwrap().push((req, s));
                std::thread::sleep(d);
                let resp = format!("HTTP/1.1 {s} X\r\ncontent-length: {}\r\n\r\n{b}", b.len());
                if writer.write_all(resp.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
            Reply::Reset => {
                requests.lock().unwrap().push((req, 0));
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Reply::Garbage => (200, "<<<not json>>>".to_string()),
        };
        requests.lock().unwrap().push((req, status));
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>, stop: &AtomicBool) -> Option<Request> {
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => break,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stop.load(Ordering::Acquire) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let mut got = 0;
    while got < len {
        match reader.read(&mut body[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    Some(Request { method, path, headers, body })
}
