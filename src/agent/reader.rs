//! The agent's output read in the calling thread: poll(2) on its pipe or socket with the call's
//! deadline, then read(2) into a buffer the agent process keeps, cut into lines there. A reply
//! wakes one thread, the caller, and no other: no reader thread hands lines over a channel.
//!
//! The descriptor stays blocking (a socket's is shared with the half the harness writes on);
//! poll says when a read will not block. `Wait::Spin` polls with a zero timeout for a bounded
//! time before the blocking poll, so the caller's core stays awake as a loaded machine's does.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest line taken from an agent: its reply carries at most three capped outputs (1 MiB
/// each, see `OUTPUT_CAP` in agent.py), which JSON escaping can make six times longer. Beyond
/// this the agent is broken or no longer the agent, and the harness stops buffering.
pub const MAX_LINE: usize = 64 << 20;

/// How much a read asks for at once.
const CHUNK: usize = 64 << 10;

/// How `run --wait` asks the harness to wait for replies, as the results file records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitMode {
    /// A blocking poll: the harness's core may go idle between calls, as on a quiet machine.
    #[default]
    Block,
    /// Poll without blocking for a bounded time first (--spin-us), then block: the harness's
    /// core stays awake, as a loaded gateway's does.
    Spin,
}

impl WaitMode {
    pub fn name(self) -> &'static str {
        match self {
            WaitMode::Block => "block",
            WaitMode::Spin => "spin",
        }
    }
}

/// How long `spin` polls by default before it blocks, in microseconds: past a persistent
/// agent's reply on a busy machine, short enough that a slow backend's wait is mostly blocked.
pub const DEFAULT_SPIN_US: u64 = 200;

/// The longest spin budget `--spin-us` takes.
pub const MAX_SPIN_US: u64 = 100_000;

/// How the caller waits for the agent's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// A blocking poll until output comes or the deadline passes.
    #[default]
    Block,
    /// Polls without blocking for up to this long first, then as `Block`.
    Spin(Duration),
}

impl Wait {
    /// The wait `mode` names, spinning for `spin` when it spins.
    pub fn new(mode: WaitMode, spin: Duration) -> Self {
        match mode {
            WaitMode::Block => Wait::Block,
            WaitMode::Spin => Wait::Spin(spin),
        }
    }
}

/// Why no line came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The deadline passed first.
    Timeout,
    /// A line grew past [`MAX_LINE`] without ending.
    TooLong,
}

/// Bytes read and not yet taken as lines.
#[derive(Debug, Default)]
pub struct Frames {
    buf: Vec<u8>,
    /// Where the first untaken byte is.
    start: usize,
    /// How far from `start` is known to hold no newline.
    scanned: usize,
}

impl Frames {
    /// Appends bytes (a plain reader reads straight into the buffer).
    fn push(&mut self, data: &[u8]) {
        self.make_room(data.len());
        self.buf.extend_from_slice(data);
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next complete line, newline included, as read_line gives it.
    pub fn take_line(&mut self) -> Option<String> {
        let held = &self.buf[self.start + self.scanned..];
        match held.iter().position(|&b| b == b'\n') {
            Some(at) => {
                let end = self.start + self.scanned + at + 1;
                Some(self.cut(end))
            }
            None => {
                self.scanned = self.len();
                None
            }
        }
    }

    /// Whether a complete line is held.
    fn has_line(&mut self) -> bool {
        let held = &self.buf[self.start + self.scanned..];
        if held.contains(&b'\n') {
            return true;
        }
        self.scanned = self.len();
        false
    }

    /// What is left after the output ended: a last line without a newline, if any.
    pub fn take_rest(&mut self) -> Option<String> {
        (!self.is_empty()).then(|| self.cut(self.buf.len()))
    }

    /// Whether an unfinished line is longer than any line an agent writes.
    pub fn too_long(&self) -> bool {
        self.len() > MAX_LINE
    }

    fn cut(&mut self, end: usize) -> String {
        let line = match std::str::from_utf8(&self.buf[self.start..end]) {
            Ok(text) => text.to_string(),
            // The parser says what was wrong with it.
            Err(_) => String::from_utf8_lossy(&self.buf[self.start..end]).into_owned(),
        };
        self.start = end;
        self.scanned = 0;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        line
    }

    /// Drops taken bytes when that makes room, and reserves `more`.
    fn make_room(&mut self, more: usize) {
        if self.start > 0 && self.buf.capacity() - self.buf.len() < more {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(more);
    }

    /// One read(2) from `fd` into the buffer: bytes read, 0 at the end of output.
    fn read_from(&mut self, fd: RawFd) -> std::io::Result<usize> {
        self.make_room(CHUNK);
        let len = self.buf.len();
        let spare = self.buf.capacity() - len;
        loop {
            // SAFETY: reads at most `spare` bytes into the vector's reserved, unused capacity,
            // and only the bytes read(2) reports written are then counted as its content.
            let n = unsafe { libc::read(fd, self.buf.as_mut_ptr().add(len).cast(), spare) };
            if n >= 0 {
                // SAFETY: read(2) initialised exactly `n` bytes past `len`.
                unsafe { self.buf.set_len(len + n as usize) };
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Where a multiplexed stream's stderr goes: the tail kept to explain a crash, at most this long.
pub struct StderrTail {
    pub tail: Arc<Mutex<Vec<u8>>>,
    pub keep: usize,
}

impl StderrTail {
    pub fn push(&self, data: &[u8]) {
        if let Ok(mut t) = self.tail.lock() {
            t.extend_from_slice(data);
            if t.len() > self.keep {
                let cut = t.len() - self.keep;
                t.drain(..cut);
            }
        }
    }
}

/// The Docker Engine's multiplexed attach stream, cut back into stdout and stderr: frames of an
/// 8-byte header (stream 1 or 2, three zero bytes, the payload's length big-endian) and the
/// payload, which reads may split anywhere.
#[derive(Debug, Default)]
pub struct Demux {
    head: Vec<u8>,
    /// The stream of the frame being read and how much of its payload is still to come.
    stream: u8,
    left: usize,
}

impl Demux {
    /// Feeds bytes read from the connection: stdout payload to `out`, stderr to `err`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Frames, err: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            if self.left == 0 {
                let need = 8 - self.head.len();
                let take = need.min(data.len());
                self.head.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.head.len() == 8 {
                    self.stream = self.head[0];
                    self.left = u32::from_be_bytes([
                        self.head[4],
                        self.head[5],
                        self.head[6],
                        self.head[7],
                    ]) as usize;
                    self.head.clear();
                }
                continue;
            }
            let take = self.left.min(data.len());
            match self.stream {
                1 => out.push(&data[..take]),
                2 => err(&data[..take]),
                _ => {} // stdin echo or a stream this harness does not read
            }
            self.left -= take;
            data = &data[take..];
        }
    }
}

/// How the descriptor's bytes become the agent's stdout.
enum Source {
    /// They are its stdout.
    Plain,
    /// The Engine API's attach stream: stdout and stderr in frames, cut apart here.
    Multiplexed {
        demux: Demux,
        stderr: StderrTail,
        scratch: Vec<u8>,
    },
}

/// The agent's stdout: its descriptor and what has been read from it.
pub struct LineReader {
    fd: OwnedFd,
    frames: Frames,
    ended: bool,
    wait: Wait,
    source: Source,
}

impl LineReader {
    pub fn new(fd: OwnedFd, wait: Wait) -> Self {
        LineReader {
            fd,
            frames: Frames::default(),
            ended: false,
            wait,
            source: Source::Plain,
        }
    }

    /// A reader of the Engine API's multiplexed attach stream: stdout into lines, stderr into
    /// `stderr`, both in the calling thread.
    pub fn multiplexed(fd: OwnedFd, wait: Wait, stderr: StderrTail, already: &[u8]) -> Self {
        let mut demux = Demux::default();
        let mut frames = Frames::default();
        demux.feed(already, &mut frames, &mut |e| stderr.push(e));
        LineReader {
            fd,
            frames,
            ended: false,
            wait,
            source: Source::Multiplexed {
                demux,
                stderr,
                scratch: Vec::new(),
            },
        }
    }

    /// The next line by `deadline`; `None` once the output has ended. A line already read is
    /// returned even after the deadline.
    pub fn next_line(&mut self, deadline: Instant) -> Result<Option<String>, ReadError> {
        loop {
            if let Some(line) = self.frames.take_line() {
                return Ok(Some(line));
            }
            if self.frames.too_long() {
                return Err(ReadError::TooLong);
            }
            if self.ended {
                return Ok(self.frames.take_rest());
            }
            if !wait_readable(self.fd.as_raw_fd(), deadline, self.wait) {
                return Err(ReadError::Timeout);
            }
            self.fill();
        }
    }

    /// Whether the output has ended with nothing left to take, found without waiting: reads
    /// what is there until a line is complete or the output ends.
    pub fn at_end(&mut self) -> bool {
        while !self.ended && !self.frames.too_long() && !self.frames.has_line() {
            if !poll_once(self.fd.as_raw_fd(), 0) {
                break;
            }
            self.fill();
        }
        self.ended && self.frames.is_empty()
    }

    fn fill(&mut self) {
        let fd = self.fd.as_raw_fd();
        let read = match &mut self.source {
            Source::Plain => self.frames.read_from(fd),
            Source::Multiplexed {
                demux,
                stderr,
                scratch,
            } => {
                let mut raw = Frames {
                    buf: std::mem::take(scratch),
                    ..Frames::default()
                };
                raw.buf.clear();
                let read = raw.read_from(fd);
                demux.feed(&raw.buf, &mut self.frames, &mut |e| stderr.push(e));
                *scratch = raw.buf;
                read
            }
        };
        // A read error ends the output as its end does.
        if !matches!(read, Ok(n) if n > 0) {
            self.ended = true;
        }
    }
}

/// Until when a `Spin` wait polls without blocking: its budget from `now`, never past the
/// deadline; `None` for `Block`.
pub fn spin_until(wait: Wait, now: Instant, deadline: Instant) -> Option<Instant> {
    match wait {
        Wait::Block => None,
        Wait::Spin(budget) => Some((now + budget).min(deadline)),
    }
}

/// Waits until `fd` can be read without blocking (data, its end, or an error) or `deadline`
/// passes: whether it can.
pub fn wait_readable(fd: RawFd, deadline: Instant, wait: Wait) -> bool {
    if let Some(until) = spin_until(wait, Instant::now(), deadline) {
        loop {
            if poll_once(fd, 0) {
                return true;
            }
            if Instant::now() >= until {
                break;
            }
            // Awake, but not in the way: a process this one waits on (the docker CLI, the
            // engine's relay) may need this very CPU to pass the reply on.
            std::thread::yield_now();
        }
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return poll_once(fd, 0);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: left.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one pollfd that lives across the call, a valid timespec, no signal mask.
        let n = unsafe { libc::ppoll(&mut pfd, 1, &timeout, std::ptr::null()) };
        if n > 0 {
            return true;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // A descriptor poll refuses will refuse a read too, which ends the output.
            return true;
        }
    }
}

/// One poll(2) with a timeout in milliseconds: whether `fd` can be read without blocking.
fn poll_once(fd: RawFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd that lives across the call.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    n != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_are_framed_across_partial_reads() {
        let mut f = Frames::default();
        f.push(b"{\"a\"");
        assert_eq!(f.take_line(), None);
        f.push(b": 1}\n{\"b\": 2}\n{\"c\"");
        assert_eq!(f.take_line().as_deref(), Some("{\"a\": 1}\n"));
        assert_eq!(f.take_line().as_deref(), Some("{\"b\": 2}\n"));
        assert_eq!(f.take_line(), None);
        f.push(b": 3}");
        assert_eq!(f.take_line(), None);
        f.push(b"\n");
        assert_eq!(f.take_line().as_deref(), Some("{\"c\": 3}\n"));
        assert!(f.is_empty());
        f.push(b"tail without newline");
        assert_eq!(f.take_line(), None);
        assert_eq!(f.take_rest().as_deref(), Some("tail without newline"));
        assert_eq!(f.take_rest(), None);
    }

    #[test]
    fn a_line_split_inside_a_utf8_character_comes_out_whole() {
        let mut f = Frames::default();
        let text = "é€\n".as_bytes();
        f.push(&text[..1]);
        assert_eq!(f.take_line(), None);
        f.push(&text[1..4]);
        assert_eq!(f.take_line(), None);
        f.push(&text[4..]);
        assert_eq!(f.take_line().as_deref(), Some("é€\n"));
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut f = Frames::default();
        f.push(&vec![b'x'; MAX_LINE]);
        assert!(!f.too_long());
        f.push(b"x");
        assert_eq!(f.take_line(), None);
        assert!(f.too_long());
    }

    /// A frame of the Engine API's attach stream.
    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_multiplexed_stream_is_cut_apart_across_any_split() {
        let mut stream = frame(1, b"{\"ready\": true}\n{\"id\"");
        stream.extend(frame(2, b"Traceback: boom\n"));
        stream.extend(frame(0, b"ignored"));
        stream.extend(frame(1, b": 7}\n"));
        for cut in 1..stream.len() {
            for size in [1, 3, 8, 64] {
                let (mut demux, mut out) = (Demux::default(), Frames::default());
                let mut err = Vec::new();
                let (a, b) = stream.split_at(cut);
                for part in a.chunks(size).chain(b.chunks(size)) {
                    demux.feed(part, &mut out, &mut |e| err.extend_from_slice(e));
                }
                assert_eq!(out.take_line().as_deref(), Some("{\"ready\": true}\n"));
                assert_eq!(out.take_line().as_deref(), Some("{\"id\": 7}\n"));
                assert!(out.is_empty());
                assert_eq!(err, b"Traceback: boom\n", "cut at {cut}, reads of {size}");
            }
        }
    }

    #[test]
    fn a_multiplexed_reader_reads_lines_and_keeps_the_stderr_tail() {
        let (r, mut w) = os_pipe::pipe().unwrap();
        let tail = Arc::new(Mutex::new(Vec::new()));
        let stderr = StderrTail {
            tail: Arc::clone(&tail),
            keep: 4,
        };
        let first = frame(1, b"one\n");
        let mut reader = LineReader::multiplexed(r.into(), Wait::Block, stderr, &first[..5]);
        w.write_all(&first[5..]).unwrap();
        w.write_all(&frame(2, b"abcdef")).unwrap();
        w.write_all(&frame(1, b"two\n")).unwrap();
        drop(w);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            reader.next_line(deadline).unwrap().as_deref(),
            Some("one\n")
        );
        assert_eq!(
            reader.next_line(deadline).unwrap().as_deref(),
            Some("two\n")
        );
        assert_eq!(reader.next_line(deadline), Ok(None));
        assert_eq!(*tail.lock().unwrap(), b"cdef");
    }

    #[test]
    fn spinning_is_bounded_by_its_budget_and_the_deadline() {
        let now = Instant::now();
        let far = now + Duration::from_secs(1);
        assert_eq!(spin_until(Wait::Block, now, far), None);
        let budget = Duration::from_micros(100);
        assert_eq!(spin_until(Wait::Spin(budget), now, far), Some(now + budget));
        let near = now + Duration::from_micros(10);
        assert_eq!(spin_until(Wait::Spin(budget), now, near), Some(near));
    }

    fn pipe_reader(wait: Wait) -> (LineReader, os_pipe::PipeWriter) {
        let (r, w) = os_pipe::pipe().unwrap();
        (LineReader::new(r.into(), wait), w)
    }

    #[test]
    fn reads_lines_written_in_pieces_then_the_end() {
        for wait in [Wait::Block, Wait::Spin(Duration::from_micros(200))] {
            let (mut reader, mut w) = pipe_reader(wait);
            let writer = std::thread::spawn(move || {
                for piece in [&b"{\"id\""[..], b": 1}\n{\"id\": 2}", b"\nlast"] {
                    w.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            let deadline = Instant::now() + Duration::from_secs(5);
            assert_eq!(
                reader.next_line(deadline).unwrap().as_deref(),
                Some("{\"id\": 1}\n")
            );
            assert_eq!(
                reader.next_line(deadline).unwrap().as_deref(),
                Some("{\"id\": 2}\n")
            );
            assert_eq!(reader.next_line(deadline).unwrap().as_deref(), Some("last"));
            assert_eq!(reader.next_line(deadline), Ok(None));
            assert!(reader.at_end());
            writer.join().unwrap();
        }
    }

    #[test]
    fn a_silent_agent_times_out_after_spinning() {
        let (mut reader, _w) = pipe_reader(Wait::Spin(Duration::from_micros(100)));
        let start = Instant::now();
        let deadline = start + Duration::from_millis(30);
        assert_eq!(reader.next_line(deadline), Err(ReadError::Timeout));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(!reader.at_end(), "still open, only silent");
    }

    #[test]
    fn the_end_is_seen_without_waiting_only_once_everything_is_taken() {
        let (mut reader, mut w) = pipe_reader(Wait::Block);
        w.write_all(b"stale\n").unwrap();
        drop(w);
        assert!(!reader.at_end(), "a line is still there");
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            reader.next_line(deadline).unwrap().as_deref(),
            Some("stale\n")
        );
        assert!(reader.at_end());
    }
}
