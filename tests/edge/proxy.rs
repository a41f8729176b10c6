//! A small stand-in for Fly's proxy: one listener per region (a client "near" that region lands there), which
//! forwards each request to that region's server — or to the one `fly-prefer-region` names — and, when the answer
//! carries `fly-replay: region=<r>[;state=<s>]`, sends the same request to region `r` instead, with
//! `fly-replay-src: instance=…;region=<from>;t=…;state=<s>`, as Fly does. WebSocket upgrades go through the same
//! way: the upgrade request is replayed until a region answers `101`, then the two connections are joined.
//!
//! It speaks HTTP/1.1 at the byte level (one request per connection, `Connection: close` towards the servers), so
//! what the servers see and send is exactly what a client would. Every request's path through the regions is
//! recorded for the tests to check who served what.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request's way through the regions.
#[derive(Debug, Clone)]
pub struct Hop {
    pub path: String,
    /// Regions in the order they received the request; the last one answered.
    pub regions: Vec<String>,
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    servers: HashMap<String, SocketAddr>,
    log: Vec<Hop>,
}

/// The proxy: entries per region, and the servers behind them.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Mutex<Shared>>,
    entries: Arc<HashMap<String, SocketAddr>>,
}

impl Proxy {
    /// Binds one entry per region (servers are registered later with [`serve`](Self::serve)).
    pub async fn bind(regions: &[&str]) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut entries = HashMap::new();
        for region in regions {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
            entries.insert(region.to_string(), listener.local_addr().unwrap());
            let (shared, region) = (shared.clone(), region.to_string());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (shared, region) = (shared.clone(), region.clone());
                    tokio::spawn(async move {
                        let _ = handle(shared, region, client).await;
                    });
                }
            });
        }
        Self {
            shared,
            entries: Arc::new(entries),
        }
    }

    /// The region's server is at `addr`.
    pub fn serve(&self, region: &str, addr: SocketAddr) {
        self.shared
            .lock()
            .unwrap()
            .servers
            .insert(region.into(), addr);
    }

    /// `http://…` of the entry that lands in `region`.
    pub fn url(&self, region: &str) -> String {
        format!("http://{}", self.entries[region])
    }

    /// `ws://…` of the entry that lands in `region`.
    pub fn ws_url(&self, region: &str) -> String {
        format!("ws://{}", self.entries[region])
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Hop> {
        self.shared.lock().unwrap().log.clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn hops(&self, prefix: &str) -> Vec<Hop> {
        self.log()
            .into_iter()
            .filter(|h| h.path.starts_with(prefix))
            .collect()
    }
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    /// Header lines as sent, without the request line.
    lines: Vec<String>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

async fn handle(
    shared: Arc<Mutex<Shared>>,
    entry: String,
    mut client: TcpStream,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    let Some(head) = parse_request(&head) else {
        return Ok(());
    };
    let length: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = rest;
    while body.len() < length {
        let mut chunk = vec![0; length - body.len()];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let upgrade = head.header("upgrade").is_some();
    let mut region = head
        .header("fly-prefer-region")
        .map(str::to_string)
        .unwrap_or(entry);
    let mut regions = Vec::new();
    let mut source: Option<String> = None;
    loop {
        regions.push(region.clone());
        let addr = shared.lock().unwrap().servers.get(&region).copied();
        let Some(addr) = addr else {
            client
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        };
        let mut server = TcpStream::connect(addr).await?;
        let mut request = format!("{} {} HTTP/1.1\r\n", head.method, head.path);
        for line in &head.lines {
            let name = line
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !["connection", "fly-replay-src"].contains(&name.as_str())
                || (upgrade && name == "connection")
            {
                request.push_str(line);
                request.push_str("\r\n");
            }
        }
        if !upgrade {
            request.push_str("connection: close\r\n");
        }
        if let Some(source) = &source {
            request.push_str(&format!("fly-replay-src: {source}\r\n"));
        }
        request.push_str("\r\n");
        server.write_all(request.as_bytes()).await?;
        server.write_all(&body).await?;
        let (response, rest) = read_head(&mut server).await?;
        let text = String::from_utf8_lossy(&response).to_string();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let replay = text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("fly-replay")
                .then(|| value.trim().to_string())
        });
        if let Some(replay) = replay
            && regions.len() < 6
        {
            let field = |name: &str| {
                replay
                    .split(';')
                    .filter_map(|p| p.trim().split_once('='))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            };
            let target = field("region").unwrap_or_default();
            let state = field("state")
                .map(|s| format!(";state={s}"))
                .unwrap_or_default();
            source = Some(format!("instance=test-{region};region={region};t=0{state}"));
            region = target;
            continue;
        }
        shared.lock().unwrap().log.push(Hop {
            path: head.path.clone(),
            regions,
            status,
        });
        client.write_all(&response).await?;
        client.write_all(&rest).await?;
        if status == 101 {
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        } else {
            tokio::io::copy(&mut server, &mut client).await?;
        }
        return Ok(());
    }
}

/// Reads up to the end of an HTTP head; returns it and whatever was read after it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(at + 4);
            return Ok((buffer, rest));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn parse_request(head: &[u8]) -> Option<Head> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    Some(Head {
        method,
        path,
        lines: lines.map(str::to_string).collect(),
    })
}
