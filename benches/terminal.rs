//! What the console costs a terminal and a machine, measured on the real binary in a pseudo-terminal
//! (util-linux `script`): time to the first frame, bytes written per second, CPU while idle. Plus
//! the bytes per second of the console with exactly one value changing per second, in-process.
//!
//! Run: `cargo bench --bench terminal` (builds the release binary first).

// A benchmark is a script of steps: production code is held to 100 lines a function
// (clippy.toml), benchmarks are not.
#![allow(clippy::too_many_lines)]

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use mlops_console::{
    app::{Action, Payload, feeds::Source},
    testing, ui,
};
use ratatui::{Terminal, TerminalOptions, Viewport, backend::CrosstermBackend, layout::Rect};

struct Pty {
    child: std::process::Child,
    bytes: Arc<Mutex<Vec<(Instant, usize)>>>,
    seen: Arc<Mutex<String>>,
    done: Arc<AtomicBool>,
}

/// Start `args` in a pseudo-terminal of 200×50 and record every write with its time.
fn spawn(args: &str, start: Instant) -> Pty {
    let cmd = format!(
        "stty cols 200 rows 50; exec {} {args}",
        env!("CARGO_BIN_EXE_mlops")
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env("COLORTERM", "truecolor")
        .env(
            "MLOPS_CONFIG_DIR",
            std::env::temp_dir().join("mlops-bench-empty-config"),
        )
        .env("MLOPS_LOG_FILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` is needed for this benchmark");
    let mut out = child.stdout.take().expect("stdout");
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(String::new()));
    let done = Arc::new(AtomicBool::new(false));
    let (b, s, d) = (bytes.clone(), seen.clone(), done.clone());
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || d.load(Ordering::Relaxed) {
                break;
            }
            b.lock().expect("lock").push((Instant::now(), n));
            let mut seen = s.lock().expect("lock");
            if seen.len() < 1_000_000 {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let _ = start;
    Pty {
        child,
        bytes,
        seen,
        done,
    }
}

impl Pty {
    fn wait_for(&self, text: &str, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.seen.lock().expect("lock").contains(text) {
                return self.bytes.lock().expect("lock").last().map(|(t, _)| *t);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    fn pid_of_mlops(&self) -> Option<u32> {
        let out = Command::new("pgrep")
            .args(["-P", &self.child.id().to_string()])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn quit(mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"q");
        }
        std::thread::sleep(Duration::from_millis(300));
        self.done.store(true, Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn first_frame() {
    let mut times = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let pty = spawn("demo --seed 7", start);
        if let Some(t) = pty.wait_for("Drift alerts", Duration::from_secs(10)) {
            times.push((t - start).as_secs_f64() * 1000.0);
        }
        pty.quit();
    }
    println!(
        "first frame of `mlops demo` (spawn → overview drawn, 10 runs): median {:.0} ms, min {:.0} ms, max {:.0} ms",
        median(times.clone()),
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max)
    );
}

/// Bytes per second and CPU over `secs` seconds of an untouched console.
fn at_rest(label: &str, args: &str, ready: &str, secs: u64) {
    let start = Instant::now();
    let pty = spawn(args, start);
    pty.wait_for(ready, Duration::from_secs(10))
        .expect("first frame");
    std::thread::sleep(Duration::from_secs(2));
    let pid = pty.pid_of_mlops().expect("mlops pid");
    let t0 = Instant::now();
    let c0 = cpu_ticks(pid).unwrap_or(0);
    std::thread::sleep(Duration::from_secs(secs));
    let c1 = cpu_ticks(pid).unwrap_or(0);
    let elapsed = t0.elapsed().as_secs_f64();
    let written: usize = pty
        .bytes
        .lock()
        .expect("lock")
        .iter()
        .filter(|(t, _)| *t >= t0)
        .map(|(_, n)| n)
        .sum();
    // Linux reports CPU time in clock ticks of 1/100 s.
    let cpu_pct = (c1 - c0) as f64 / 100.0 / elapsed * 100.0;
    println!(
        "{label}: {:.0} bytes/s to the terminal, {cpu_pct:.2}% CPU over {elapsed:.0} s",
        written as f64 / elapsed
    );
    pty.quit();
}

struct Counting(Arc<Mutex<usize>>);
impl Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        *self.0.lock().expect("lock") += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// In-process: the Overview with exactly one value (one GPU's utilisation) changing each second.
fn one_value_per_second() {
    let (mut app, _, ctx) = testing::loaded_demo((200, 50));
    let counter = Arc::new(Mutex::new(0usize));
    let backend = CrosstermBackend::new(Counting(counter.clone()));
    let mut terminal = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
        },
    )
    .expect("terminal");
    terminal.draw(|f| ui::render(&app, f)).expect("first draw");
    let first = *counter.lock().expect("lock");
    *counter.lock().expect("lock") = 0;
    let seconds = 60;
    for i in 0..seconds {
        let mut gpus = app.feeds.gpus.data.clone().unwrap_or_default();
        gpus[0].util_pct = 40.0 + f64::from(i % 20);
        testing::dispatch(
            &mut app,
            &ctx,
            Action::Loaded(Source::Gpus, Ok(Box::new(Payload::Gpus(gpus)))),
        );
        if app.dirty {
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
            app.dirty = false;
        }
    }
    let total = *counter.lock().expect("lock");
    println!(
        "one value changing per second (Overview, 200×50, {seconds} s): {:.0} bytes/s (first full frame {first} bytes)",
        total as f64 / f64::from(seconds)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    one_value_per_second();
    first_frame();
    at_rest(
        "`mlops demo` left alone on the Overview (the simulation moves every second)",
        "demo --seed 7",
        "Drift alerts",
        20,
    );
    at_rest(
        "`mlops` with nothing configured, left alone",
        "",
        "not configured",
        20,
    );
}
