//! The counting relay: listens on a unix socket in a temporary folder (or on 127.0.0.1 for a
//! TCP engine), forwards each connection's bytes to the engine's real endpoint unchanged, and
//! counts them on its [`Meter`]. With an added RTT it holds each round trip's first bytes that
//! long before passing them on: a small delaying proxy, to check the latency model.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::runtime::Runtime;

use super::turns::{Direction, Turns};
use super::{Counts, Meter};

/// Where the engine really listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
}

impl Upstream {
    /// From a `DOCKER_HOST` value (`unix:///…` or `tcp://HOST:PORT`); `None`: Docker's default
    /// socket, or `DOCKER_HOST` when set.
    pub fn parse(host: Option<&str>) -> Result<Upstream, String> {
        let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
        let host = host
            .map(str::to_string)
            .or(from_env)
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        if let Some(path) = host.strip_prefix("unix://") {
            Ok(Upstream::Unix(PathBuf::from(path)))
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            Ok(Upstream::Tcp(addr.trim_end_matches('/').to_string()))
        } else {
            Err(format!(
                "cannot count round trips to '{host}': only unix:// and tcp:// engines are relayed"
            ))
        }
    }
}

/// Both ends of a relayed connection, whichever kind of socket.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A running relay; it stops when dropped.
pub struct Relay {
    runtime: Option<Runtime>,
    meter: Arc<Meter>,
    endpoint: String,
    /// The folder of the unix socket, removed with the relay.
    _dir: Option<tempfile::TempDir>,
}

impl Relay {
    /// Starts a relay to `upstream`, holding each round trip's first bytes for `added_rtt`.
    pub fn start(upstream: Upstream, added_rtt: Duration) -> std::io::Result<Relay> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("netcount-relay")
            .enable_all()
            .build()?;
        let meter = Arc::new(Meter::default());
        let (endpoint, dir) = match &upstream {
            Upstream::Unix(_) => {
                let dir = tempfile::Builder::new()
                    .prefix("sandbox-bench-relay")
                    .tempdir()?;
                let path = dir.path().join("engine.sock");
                let listener = runtime.block_on(async { UnixListener::bind(&path) })?;
                let (meter, up) = (Arc::clone(&meter), upstream.clone());
                runtime.spawn(async move {
                    while let Ok((client, _)) = listener.accept().await {
                        tokio::spawn(relay_one(client, up.clone(), Arc::clone(&meter), added_rtt));
                    }
                });
                (format!("unix://{}", path.display()), Some(dir))
            }
            Upstream::Tcp(_) => {
                let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
                let addr = listener.local_addr()?;
                let (meter, up) = (Arc::clone(&meter), upstream.clone());
                runtime.spawn(async move {
                    while let Ok((client, _)) = listener.accept().await {
                        let _ = client.set_nodelay(true);
                        tokio::spawn(relay_one(client, up.clone(), Arc::clone(&meter), added_rtt));
                    }
                });
                (format!("tcp://{addr}"), None)
            }
        };
        Ok(Relay {
            runtime: Some(runtime),
            meter,
            endpoint,
            _dir: dir,
        })
    }

    /// Where clients connect instead of the engine, in `DOCKER_HOST` form.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The totals so far.
    pub fn counts(&self) -> Counts {
        self.meter.counts()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One client connection: the engine's connection opened, then both directions pumped until
/// each side has closed its half.
async fn relay_one(
    client: impl Stream + 'static,
    upstream: Upstream,
    meter: Arc<Meter>,
    delay: Duration,
) {
    let server: Box<dyn Stream> = match &upstream {
        Upstream::Unix(path) => match UnixStream::connect(path).await {
            Ok(s) => Box::new(s),
            Err(_) => return,
        },
        Upstream::Tcp(addr) => match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
            Err(_) => return,
        },
    };
    Meter::add(&meter.connections, 1);
    let turns = Arc::new(Mutex::new(Turns::default()));
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(server);
    let up = pump(
        client_read,
        server_write,
        Direction::Up,
        Arc::clone(&turns),
        Arc::clone(&meter),
        delay,
    );
    let down = pump(
        server_read,
        client_write,
        Direction::Down,
        turns,
        meter,
        Duration::ZERO,
    );
    tokio::join!(up, down);
}

/// Copies one direction, counting its bytes and the round trips it starts; a round trip's
/// first bytes wait `delay` first. Closes the write half when the read half ends.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    direction: Direction,
    turns: Arc<Mutex<Turns>>,
    meter: Arc<Meter>,
    delay: Duration,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let starts = turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saw(direction);
        match direction {
            Direction::Up => Meter::add(&meter.bytes_up, n as u64),
            Direction::Down => Meter::add(&meter.bytes_down, n as u64),
        }
        if starts {
            Meter::add(&meter.round_trips, 1);
            if !delay.is_zero() {
                // Tokio's timer rounds up to whole milliseconds; a blocking thread's sleep
                // keeps a few-ms delay within a tenth of a millisecond.
                let _ = tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    /// A fake engine on a unix socket: answers each line it reads with `ok\n`, per connection.
    fn fake_engine() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fake.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 256];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(b"ok\n").is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (dir, path)
    }

    fn exchange(conn: &mut std::os::unix::net::UnixStream) {
        conn.write_all(b"ping\n").expect("write");
        let mut buf = [0u8; 3];
        conn.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ok\n");
    }

    fn connect(relay: &Relay) -> std::os::unix::net::UnixStream {
        let path = relay.endpoint().trim_start_matches("unix://").to_string();
        std::os::unix::net::UnixStream::connect(path).expect("connect to the relay")
    }

    /// Waits for the relay's tasks to count what was already answered.
    fn settled(relay: &Relay, want: impl Fn(Counts) -> bool) -> Counts {
        let began = Instant::now();
        while !want(relay.counts()) && began.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        relay.counts()
    }

    #[test]
    fn counts_connections_exchanges_and_bytes() {
        let (_dir, path) = fake_engine();
        let relay = Relay::start(Upstream::Unix(path), Duration::ZERO).expect("relay");
        let mut a = connect(&relay);
        for _ in 0..3 {
            exchange(&mut a);
        }
        let mut b = connect(&relay);
        exchange(&mut b);
        let counts = settled(&relay, |c| c.bytes_down == 12);
        assert_eq!(
            counts,
            Counts {
                connections: 2,
                round_trips: 4,
                bytes_up: 20,
                bytes_down: 12
            }
        );
    }

    #[test]
    fn an_added_rtt_delays_each_exchange() {
        let (_dir, path) = fake_engine();
        let relay = Relay::start(Upstream::Unix(path), Duration::from_millis(30)).expect("relay");
        let mut conn = connect(&relay);
        let began = Instant::now();
        exchange(&mut conn);
        exchange(&mut conn);
        assert!(
            began.elapsed() >= Duration::from_millis(60),
            "{:?}",
            began.elapsed()
        );
    }

    #[test]
    fn a_tcp_engine_is_relayed_from_127_0_0_1() {
        let engine = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = engine.local_addr().expect("address");
        std::thread::spawn(move || {
            let Ok((mut conn, _)) = engine.accept() else {
                return;
            };
            let mut buf = [0u8; 256];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(b"ok\n").is_err() {
                    break;
                }
            }
        });
        let relay = Relay::start(Upstream::Tcp(addr.to_string()), Duration::ZERO).expect("relay");
        let at = relay
            .endpoint()
            .strip_prefix("tcp://")
            .expect("a tcp endpoint");
        assert!(at.starts_with("127.0.0.1:"), "{at}");
        let mut conn = std::net::TcpStream::connect(at).expect("connect to the relay");
        for _ in 0..2 {
            conn.write_all(b"ping\n").expect("write");
            let mut buf = [0u8; 3];
            conn.read_exact(&mut buf).expect("read");
        }
        let counts = settled(&relay, |c| c.bytes_down == 6);
        assert_eq!((counts.connections, counts.round_trips), (1, 2));
    }

    #[test]
    fn endpoints_are_read_in_docker_host_form() {
        assert_eq!(
            Upstream::parse(Some("unix:///run/x.sock")),
            Ok(Upstream::Unix("/run/x.sock".into()))
        );
        assert_eq!(
            Upstream::parse(Some("tcp://10.0.0.2:2376")),
            Ok(Upstream::Tcp("10.0.0.2:2376".into()))
        );
        assert!(Upstream::parse(Some("ssh://me@far")).is_err());
    }
}
