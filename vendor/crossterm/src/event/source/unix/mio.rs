use std::{
    collections::VecDeque,
    io,
    time::{Duration, Instant},
};

use mio::{unix::SourceFd, Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;

#[cfg(feature = "event-stream")]
use crate::event::sys::Waker;
use crate::event::{
    source::EventSource, sys::unix::parse::parse_event, timeout::PollTimeout, Event, InternalEvent,
};
use crate::terminal::sys::file_descriptor::{tty_fd, FileDesc};

// Tokens to identify file descriptor
const TTY_TOKEN: Token = Token(0);
const SIGNAL_TOKEN: Token = Token(1);
#[cfg(feature = "event-stream")]
const WAKE_TOKEN: Token = Token(2);

// mlops-console patch (crossterm-rs/crossterm#1060): a bracketed paste whose end marker
// (`ESC [201~`) never comes must not swallow every later key. When no input has arrived for
// PASTE_IDLE inside an unfinished paste, or it has grown past PASTE_MAX bytes, what has arrived
// is delivered as the paste and parsing starts over.
const PASTE_IDLE: Duration = Duration::from_millis(1000);
const PASTE_MAX: usize = 1 << 20;

// I (@zrzka) wasn't able to read more than 1_022 bytes when testing
// reading on macOS/Linux -> we don't need bigger buffer and 1k of bytes
// is enough.
const TTY_BUFFER_SIZE: usize = 1_024;

pub(crate) struct UnixInternalEventSource {
    poll: Poll,
    events: Events,
    parser: Parser,
    tty_buffer: [u8; TTY_BUFFER_SIZE],
    tty_fd: FileDesc<'static>,
    /// A drain stopped at its cap with input possibly left (mlops-console patch).
    tty_pending: bool,
    signals: Signals,
    #[cfg(feature = "event-stream")]
    waker: Waker,
}

impl UnixInternalEventSource {
    pub fn new() -> io::Result<Self> {
        UnixInternalEventSource::from_file_descriptor(tty_fd()?)
    }

    pub(crate) fn from_file_descriptor(input_fd: FileDesc<'static>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry();

        let tty_raw_fd = input_fd.raw_fd();
        let mut tty_ev = SourceFd(&tty_raw_fd);
        registry.register(&mut tty_ev, TTY_TOKEN, Interest::READABLE)?;

        let mut signals = Signals::new([signal_hook::consts::SIGWINCH])?;
        registry.register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)?;

        #[cfg(feature = "event-stream")]
        let waker = Waker::new(registry, WAKE_TOKEN)?;

        Ok(UnixInternalEventSource {
            poll,
            events: Events::with_capacity(3),
            parser: Parser::default(),
            tty_buffer: [0u8; TTY_BUFFER_SIZE],
            tty_fd: input_fd,
            tty_pending: false,
            signals,
            #[cfg(feature = "event-stream")]
            waker,
        })
    }

    /// Read what the tty holds into the parser (mlops-console patch). Upstream read one
    /// buffer and returned the first event, leaving the rest of a burst of typed input (more
    /// than 1 KiB: a paste into a terminal without bracketed paste, `tmux send-keys`) unread
    /// in the tty; the edge-triggered poll never reported it again, so no key reached the
    /// program until new input came. The tty is blocking, so a read happens only after a full
    /// buffer when a level-triggered check says more is there; at most DRAIN_MAX bytes per
    /// call, the rest on the next call (`tty_pending`).
    fn drain_tty(&mut self) {
        let mut read_total = 0;
        self.tty_pending = false;
        loop {
            match self.tty_fd.read(&mut self.tty_buffer) {
                Ok(read_count) => {
                    if read_count > 0 {
                        self.parser.advance(
                            &self.tty_buffer[..read_count],
                            read_count == TTY_BUFFER_SIZE,
                        );
                    }
                    read_total += read_count;
                    // A short read took all there was; reading again would wait for the next
                    // key (inside an unfinished paste too: the poll gives up on it).
                    if read_count < TTY_BUFFER_SIZE || !tty_readable(self.tty_fd.raw_fd()) {
                        return;
                    }
                    if read_total >= DRAIN_MAX {
                        self.tty_pending = true;
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: nothing more now; another error: the next poll reports it again.
                Err(_) => return,
            }
        }
    }
}

/// The most bytes one drain of the tty reads (mlops-console patch).
const DRAIN_MAX: usize = 64 * TTY_BUFFER_SIZE;

/// Whether `fd` has input now: a level-triggered poll(2) that does not wait (mlops-console
/// patch).
fn tty_readable(fd: std::os::unix::io::RawFd) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    // SAFETY: the tty's descriptor stays open for as long as the event source lives.
    let fd = unsafe { std::os::unix::io::BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
        && fds[0].revents().contains(PollFlags::IN)
}

impl EventSource for UnixInternalEventSource {
    fn try_read(&mut self, timeout: Option<Duration>) -> io::Result<Option<InternalEvent>> {
        if let Some(event) = self.parser.next() {
            return Ok(Some(event));
        }

        let timeout = PollTimeout::new(timeout);

        loop {
            // mlops-console patch: input left in the tty by a drain that stopped at its cap gets
            // no new readiness event (the poll is edge-triggered): read it without waiting.
            if self.tty_pending && tty_readable(self.tty_fd.raw_fd()) {
                self.drain_tty();
                if let Some(event) = self.parser.next() {
                    return Ok(Some(event));
                }
            }
            // Inside an unfinished paste, wake up to give up on it (mlops-console patch).
            let wait = if self.parser.in_paste() {
                Some(timeout.leftover().map_or(PASTE_IDLE, |l| l.min(PASTE_IDLE)))
            } else {
                timeout.leftover()
            };
            if let Err(e) = self.poll.poll(&mut self.events, wait) {
                // Mio will throw an interrupted error in case of cursor position retrieval. We need to retry until it succeeds.
                // Previous versions of Mio (< 0.7) would automatically retry the poll call if it was interrupted (if EINTR was returned).
                // https://docs.rs/mio/0.7.0/mio/struct.Poll.html#notes
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                } else {
                    return Err(e);
                }
            };

            if self.events.is_empty() {
                if self.parser.paste_stalled() {
                    self.parser.flush_paste();
                    if let Some(event) = self.parser.next() {
                        return Ok(Some(event));
                    }
                }
                if !self.parser.in_paste() || timeout.elapsed() {
                    // No readiness events = timeout
                    return Ok(None);
                }
                continue;
            }

            let tokens: Vec<Token> = self.events.iter().map(|x| x.token()).collect();
            for token in tokens {
                match token {
                    TTY_TOKEN => {
                        self.drain_tty();
                        if let Some(event) = self.parser.next() {
                            return Ok(Some(event));
                        }
                    }
                    SIGNAL_TOKEN => {
                        if self.signals.pending().next() == Some(signal_hook::consts::SIGWINCH) {
                            // TODO Should we remove tput?
                            //
                            // This can take a really long time, because terminal::size can
                            // launch new process (tput) and then it parses its output. It's
                            // not a really long time from the absolute time point of view, but
                            // it's a really long time from the mio, async-std/tokio executor, ...
                            // point of view.
                            let new_size = crate::terminal::size()?;
                            return Ok(Some(InternalEvent::Event(Event::Resize(
                                new_size.0, new_size.1,
                            ))));
                        }
                    }
                    #[cfg(feature = "event-stream")]
                    WAKE_TOKEN => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::Interrupted,
                            "Poll operation was woken up by `Waker::wake`",
                        ));
                    }
                    _ => unreachable!("Synchronize Evented handle registration & token handling"),
                }
            }

            // Processing above can take some time, check if timeout expired
            if timeout.elapsed() {
                return Ok(None);
            }
        }
    }

    #[cfg(feature = "event-stream")]
    fn waker(&self) -> Waker {
        self.waker.clone()
    }
}

//
// Following `Parser` structure exists for two reasons:
//
//  * mimic anes Parser interface
//  * move the advancing, parsing, ... stuff out of the `try_read` method
//
#[derive(Debug)]
struct Parser {
    buffer: Vec<u8>,
    internal_events: VecDeque<InternalEvent>,
    /// When the last byte arrived (mlops-console patch).
    last_input: Instant,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            // This buffer is used for -> 1 <- ANSI escape sequence. Are we
            // aware of any ANSI escape sequence that is bigger? Can we make
            // it smaller?
            //
            // Probably not worth spending more time on this as "there's a plan"
            // to use the anes crate parser.
            buffer: Vec::with_capacity(256),
            // TTY_BUFFER_SIZE is 1_024 bytes. How many ANSI escape sequences can
            // fit? What is an average sequence length? Let's guess here
            // and say that the average ANSI escape sequence length is 8 bytes. Thus
            // the buffer size should be 1024/8=128 to avoid additional allocations
            // when processing large amounts of data.
            //
            // There's no need to make it bigger, because when you look at the `try_read`
            // method implementation, all events are consumed before the next TTY_BUFFER
            // is processed -> events pushed.
            internal_events: VecDeque::with_capacity(128),
            last_input: Instant::now(),
        }
    }
}

impl Parser {
    /// The buffer holds a bracketed paste whose end has not come yet.
    fn in_paste(&self) -> bool {
        self.buffer.starts_with(b"\x1B[200~")
    }

    /// An unfinished paste with no input for `PASTE_IDLE`.
    fn paste_stalled(&self) -> bool {
        self.in_paste() && self.last_input.elapsed() >= PASTE_IDLE
    }

    /// Deliver what an unfinished paste holds, and parse afresh from here.
    fn flush_paste(&mut self) {
        #[cfg(feature = "bracketed-paste")]
        {
            let paste = String::from_utf8_lossy(&self.buffer[6..]).to_string();
            self.internal_events
                .push_back(InternalEvent::Event(Event::Paste(paste)));
        }
        self.buffer.clear();
    }

    fn advance(&mut self, buffer: &[u8], more: bool) {
        self.last_input = Instant::now();
        for (idx, byte) in buffer.iter().enumerate() {
            let more = idx + 1 < buffer.len() || more;

            self.buffer.push(*byte);
            if self.buffer.len() > PASTE_MAX && self.in_paste() {
                self.flush_paste();
                continue;
            }

            match parse_event(&self.buffer, more) {
                Ok(Some(ie)) => {
                    self.internal_events.push_back(ie);
                    self.buffer.clear();
                }
                Ok(None) => {
                    // Event can't be parsed, because we don't have enough bytes for
                    // the current sequence. Keep the buffer and process next bytes.
                }
                Err(_) => {
                    // Event can't be parsed (not enough parameters, parameter is not a number, ...).
                    // Clear the buffer and continue with another sequence.
                    self.buffer.clear();
                }
            }
        }
    }
}

impl Iterator for Parser {
    type Item = InternalEvent;

    fn next(&mut self) -> Option<Self::Item> {
        self.internal_events.pop_front()
    }
}
