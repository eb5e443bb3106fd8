//! The console's output in 16 colours: crossterm writes every named colour as an index of the
//! 256-colour palette (`ESC[38;5;9m` for red), which a terminal without 256 colours (`screen`
//! built without them) drops. `Ansi16` sits between ratatui's backend and stdout, keeps what is
//! written until `flush` (a frame), then writes it with every SGR sequence's `38;5;N`/`48;5;N`
//! for N under 16 as the 16-colour code (`31`, `91`, `41`, `101` …). Everything else — other
//! parameters of the same sequence, `38;2;r;g;b`, indexes of 16 and over, other sequences, the
//! text — is written byte for byte. It owns no terminal state and knows nothing of the App.

use std::io::{self, Write};

/// A writer that speaks the terminal's 16 colours (see the module's comment).
pub struct Ansi16<W: Write> {
    inner: W,
    /// What was written since the last flush: a sequence may arrive in several writes.
    pending: Vec<u8>,
}

impl<W: Write> Ansi16<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for Ansi16<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut out = Vec::with_capacity(self.pending.len());
        rewrite(&self.pending, &mut out);
        self.pending.clear();
        self.inner.write_all(&out)?;
        self.inner.flush()
    }
}

/// `input` with every SGR sequence (`ESC [ params m`) rewritten by `sgr`, the rest as it is.
fn rewrite(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        if input[i] != 0x1b || input.get(i + 1) != Some(&b'[') {
            out.push(input[i]);
            i += 1;
            continue;
        }
        // A control sequence: parameter bytes, then the final byte. Only a plain SGR (digits
        // and `;`, final `m`, no intermediate or private marker) is rewritten.
        let start = i + 2;
        let end = start
            + input[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b';')
                .count();
        if input.get(end) == Some(&b'm') {
            out.extend_from_slice(b"\x1b[");
            sgr(&input[start..end], out);
            out.push(b'm');
            i = end + 1;
        } else {
            // Anything else is copied as it comes, from after its `ESC [`.
            out.extend_from_slice(&input[i..start]);
            i = start;
        }
    }
}

/// An SGR sequence's parameters with `38;5;N` and `48;5;N` (N under 16) as the 16-colour code.
/// Extended colours are read whole (`38;2;r;g;b`, `58;5;N`), so a value inside one (`58;5;38`)
/// is never taken for the start of another.
fn sgr(params: &[u8], out: &mut Vec<u8>) {
    let tokens: Vec<&[u8]> = params.split(|b| *b == b';').collect();
    let mut k = 0;
    while k < tokens.len() {
        if k > 0 {
            out.push(b';');
        }
        let t = tokens[k];
        let extended = matches!(t, b"38" | b"48" | b"58");
        let len = match tokens.get(k + 1) {
            Some(&b"5") if extended => 3,
            Some(&b"2") if extended => 5,
            _ => 1,
        };
        let group = &tokens[k..(k + len).min(tokens.len())];
        match (t, group.get(2).and_then(|n| index(n))) {
            (b"38", Some(n)) if len == 3 => out.extend_from_slice(code(30, 90, n).as_bytes()),
            (b"48", Some(n)) if len == 3 => out.extend_from_slice(code(40, 100, n).as_bytes()),
            _ => out.extend_from_slice(&group.join(&b';')),
        }
        k += len;
    }
}

/// A palette index under 16, as written (`9`, `09`).
fn index(token: &[u8]) -> Option<u8> {
    std::str::from_utf8(token)
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u8>().ok())
        .filter(|n| *n < 16)
}

/// The 16-colour code of index `n`: `normal + n` for the first eight, `bright + n - 8` after.
fn code(normal: u8, bright: u8, n: u8) -> String {
    if n < 8 {
        (normal + n).to_string()
    } else {
        (bright + n - 8).to_string()
    }
}

impl<W: Write> Drop for Ansi16<W> {
    fn drop(&mut self) {
        // As `BufWriter` does: what was written is not lost with the writer.
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use ratatui::{Terminal, TerminalOptions, Viewport, backend::CrosstermBackend, layout::Rect};

    use super::*;
    use crate::{
        config::{ColorDepth, Theme},
        testing::{loaded_demo, press},
    };

    /// Written in `parts` (each a `write` call), then flushed once.
    fn through(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = Ansi16::new(&mut out);
            for p in parts {
                w.write_all(p).expect("write");
            }
            w.flush().expect("flush");
        }
        out
    }

    fn text(parts: &[&str]) -> String {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        String::from_utf8(through(&parts)).expect("utf-8")
    }

    #[test]
    fn indexes_under_16_become_16_colour_codes() {
        assert_eq!(text(&["\x1b[38;5;1m"]), "\x1b[31m");
        assert_eq!(text(&["\x1b[38;5;9m"]), "\x1b[91m");
        assert_eq!(text(&["\x1b[38;5;0m"]), "\x1b[30m");
        assert_eq!(text(&["\x1b[38;5;15m"]), "\x1b[97m");
        assert_eq!(text(&["\x1b[48;5;6m"]), "\x1b[46m");
        assert_eq!(text(&["\x1b[48;5;8m"]), "\x1b[100m");
        assert_eq!(text(&["\x1b[48;5;15m"]), "\x1b[107m");
    }

    #[test]
    fn other_params_of_the_sequence_stay_as_they_are() {
        // crossterm's SetColors: both in one sequence; with attributes around them.
        assert_eq!(text(&["\x1b[38;5;9;48;5;0m"]), "\x1b[91;40m");
        assert_eq!(text(&["\x1b[1;38;5;2;4m"]), "\x1b[1;32;4m");
        assert_eq!(text(&["\x1b[0;48;5;12;39m"]), "\x1b[0;104;39m");
        // An underline colour is left as it is, and does not swallow what follows.
        assert_eq!(text(&["\x1b[58;5;9;38;5;3m"]), "\x1b[58;5;9;33m");
        assert_eq!(text(&["\x1b[58;5;38;5;9m"]), "\x1b[58;5;38;5;9m");
    }

    #[test]
    fn what_16_colours_cannot_say_is_left_byte_for_byte() {
        for s in [
            "\x1b[38;5;16m",
            "\x1b[38;5;196m",
            "\x1b[48;5;255m",
            "\x1b[38;2;5;5;9m",
            "\x1b[48;2;38;5;1m",
            "\x1b[38;2;1;2;3;48;5;200m",
            "\x1b[m",
            "\x1b[0m",
            "\x1b[38;5m",
            "\x1b[38;5;m",
            "\x1b[38;5;99999m",
            // Not SGR: a cursor move, a private mode, an OSC.
            "\x1b[38;5H",
            "\x1b[?1049h",
            "\x1b[?38;5;1m",
            "\x1b]0;38;5;1m\x07",
        ] {
            assert_eq!(text(&[s]), s, "{s:?}");
        }
        // Text that looks like a colour outside an escape.
        assert_eq!(text(&["38;5;9m [38;5;9m"]), "38;5;9m [38;5;9m");
        assert_eq!(text(&["ok ✓ 38;5;1"]), "ok ✓ 38;5;1");
        // A sequence cut short at the end is written as it came.
        assert_eq!(text(&["a\x1b[38;5;1"]), "a\x1b[38;5;1");
    }

    #[test]
    fn a_sequence_split_across_writes_is_rewritten_at_the_flush() {
        assert_eq!(
            text(&[
                "x\x1b",
                "[38;",
                "5;",
                "9",
                ";48;5;",
                "4m",
                "y\x1b[",
                "38;5;200m"
            ]),
            "x\x1b[91;44my\x1b[38;5;200m"
        );
        // Each flush writes what came before it.
        let mut out = Vec::new();
        {
            let mut w = Ansi16::new(&mut out);
            w.write_all(b"\x1b[38;5;2m").expect("write");
            w.flush().expect("flush");
            w.write_all(b"\x1b[48;5;").expect("write");
            w.write_all(b"3m").expect("write");
            w.flush().expect("flush");
        }
        assert_eq!(out, b"\x1b[32m\x1b[43m");
    }

    /// A frame of the console as a `TERM=screen` terminal gets it: the theme in 16 colours,
    /// through crossterm over this writer: 16-colour codes, never a 256-colour index.
    #[test]
    fn a_frame_in_16_colours_speaks_16_colour_codes_only() {
        let (mut app, _, ctx) = loaded_demo((120, 40));
        app.prefs.theme = {
            let mut t = Theme::embedded("dark");
            t.reduce(ColorDepth::Ansi16);
            t
        };
        for view in ["1", "6"] {
            press(&mut app, &ctx, view);
            let mut out = Vec::new();
            {
                let mut terminal = Terminal::with_options(
                    CrosstermBackend::new(Ansi16::new(&mut out)),
                    TerminalOptions {
                        viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
                    },
                )
                .expect("terminal");
                terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
            }
            let s = String::from_utf8_lossy(&out);
            assert!(
                !s.contains("38;5;") && !s.contains("48;5;"),
                "a 256-colour index in view {view}"
            );
            let codes = sgr_params(&s);
            assert!(
                codes
                    .iter()
                    .any(|c| (30..=37).contains(c) || (90..=97).contains(c)),
                "no 16-colour foreground in view {view}: {codes:?}"
            );
            assert!(
                codes
                    .iter()
                    .any(|c| (40..=47).contains(c) || (100..=107).contains(c)),
                "no 16-colour background in view {view}: {codes:?}"
            );
        }
    }

    /// Every parameter of every SGR sequence in `s`.
    fn sgr_params(s: &str) -> Vec<u16> {
        s.split("\x1b[")
            .skip(1)
            .filter_map(|rest| rest.split_once('m'))
            .filter(|(params, _)| params.bytes().all(|b| b.is_ascii_digit() || b == b';'))
            .flat_map(|(params, _)| params.split(';').filter_map(|p| p.parse().ok()))
            .collect()
    }
}
