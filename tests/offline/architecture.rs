//! The layout keeps its design: no import cycles between files, and imports only go down the
//! floors (a child module may use its parent). Read from the source files themselves, so a new
//! `use` that breaks the design fails here, naming the files.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// A file as a module path: `["crate", "app", "update"]` for `src/app/update/mod.rs`.
type Module = Vec<String>;

/// The floors, lowest first: a module may import from its own floor and the ones below.
const FLOORS: [(&str, u8); 14] = [
    ("mlops_core", 0),
    ("crate::config", 1),
    ("crate::logging", 1),
    ("crate::adapters", 2),
    ("crate::app", 3),
    ("crate::ui", 4),
    ("crate::controller", 4),
    ("crate::event_loop", 5),
    ("crate::testing", 6),
    ("crate::wiring", 6),
    ("crate::cli", 7),
    ("crate", 8),
    ("mlops_core::demo", 1),
    ("mlops_core::lib", 0),
];

fn floor(m: &Module) -> u8 {
    let name = m.join("::");
    FLOORS
        .iter()
        .filter(|(prefix, _)| name == *prefix || name.starts_with(&format!("{prefix}::")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(0, |(_, f)| *f)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(path: &Path, base: &Path, krate: &str) -> Module {
    let rel = path.strip_prefix(base).unwrap_or(path).with_extension("");
    let mut m = vec![krate.to_string()];
    for part in rel.components() {
        m.push(part.as_os_str().to_string_lossy().to_string());
    }
    if matches!(
        m.last().map(String::as_str),
        Some("mod" | "lib" | "main" | "tests")
    ) && m.len() > 1
    {
        // `tests.rs` beside a module is that module's test code: it may use anything of it.
        let last = m.pop();
        if last.as_deref() == Some("tests") {
            m.push("tests".into());
        }
    }
    m
}

/// Every path a `use` tree names: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    fn rec(prefix: &str, t: &str, out: &mut Vec<String>) {
        let Some(open) = t.find('{') else {
            for x in t.split(',').filter(|x| !x.is_empty()) {
                out.push(format!("{prefix}{x}"));
            }
            return;
        };
        let head = &t[..open];
        let body = &t[open + 1..t.rfind('}').unwrap_or(t.len())];
        let (mut depth, mut current, mut parts) = (0, String::new(), Vec::new());
        for ch in body.chars() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if ch == ',' && depth == 0 {
                parts.push(std::mem::take(&mut current));
            } else {
                current.push(ch);
            }
        }
        parts.push(current);
        for p in parts.iter().filter(|p| !p.is_empty()) {
            rec(&format!("{prefix}{head}"), p, out);
        }
    }
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    rec("", &tree, &mut out);
    out
}

fn resolve(current: &Module, path: &str, files: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let segs: Vec<&str> = path.split("::").collect();
    let (mut full, rest): (Module, &[&str]) = match segs.first().copied() {
        Some("crate") => (vec![current[0].clone()], &segs[1..]),
        Some("mlops_core") => (vec!["mlops_core".into()], &segs[1..]),
        Some("self") => (current.clone(), &segs[1..]),
        Some("super") => {
            let mut m = current.clone();
            let mut i = 0;
            while segs.get(i) == Some(&"super") {
                m.pop();
                i += 1;
            }
            (m, &segs[i..])
        }
        _ => return None,
    };
    full.extend(rest.iter().map(|s| (*s).to_string()));
    (1..=full.len())
        .rev()
        .map(|i| full[..i].to_vec())
        .find(|m| files.contains_key(m))
}

/// The imports of every file (test modules left out).
fn graph() -> (
    BTreeMap<Module, BTreeSet<Module>>,
    BTreeMap<Module, PathBuf>,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    for (base, krate) in [
        (root.join("src"), "crate"),
        (root.join("src/core"), "mlops_core"),
    ] {
        let mut paths = Vec::new();
        rust_files(&base, &mut paths);
        for p in paths {
            if krate == "crate" && p.starts_with(root.join("src/core")) {
                continue;
            }
            let m = module_of(&p, &base, krate);
            // Test code (`tests.rs`, `*_tests.rs`, anything under a `tests` module) may use
            // anything: the fixtures live on the top floor.
            if m.iter().any(|s| s == "tests" || s.ends_with("_tests")) {
                continue;
            }
            files.insert(m, p);
        }
    }
    let mut edges = BTreeMap::new();
    for (m, p) in &files {
        let text = std::fs::read_to_string(p).expect("source file");
        let text = text
            .split("#[cfg(test)]\nmod tests {")
            .next()
            .unwrap_or_default();
        let mut deps = BTreeSet::new();
        for stmt in text.split(';') {
            let stmt = stmt.trim_start();
            let stmt = stmt
                .lines()
                .skip_while(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n");
            let body = stmt
                .trim_start()
                .strip_prefix("pub ")
                .or_else(|| stmt.trim_start().strip_prefix("pub(crate) "))
                .or_else(|| stmt.trim_start().strip_prefix("pub(super) "))
                .unwrap_or(stmt.trim_start());
            if let Some(tree) = body.strip_prefix("use ") {
                for path in expand(tree) {
                    if let Some(d) = resolve(m, &path, &files) {
                        deps.insert(d);
                    }
                }
            }
        }
        // Paths written in place (`crate::app::rows::len(…)`).
        for (i, _) in text
            .match_indices("crate::")
            .chain(text.match_indices("super::"))
        {
            let path: String = text[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if let Some(d) = resolve(m, path.trim_end_matches(':'), &files) {
                deps.insert(d);
            }
        }
        deps.remove(m);
        edges.insert(m.clone(), deps);
    }
    (edges, files)
}

fn is_ancestor(a: &Module, b: &Module) -> bool {
    a.len() < b.len() && b[..a.len()] == a[..]
}

#[test]
fn no_import_cycles_between_files() {
    let (edges, _) = graph();
    // A module and its own children are one unit: `mod.rs` declares them.
    let g: BTreeMap<&Module, Vec<&Module>> = edges
        .iter()
        .map(|(m, ds)| {
            (
                m,
                ds.iter()
                    .filter(|d| !is_ancestor(d, m) && !is_ancestor(m, d))
                    .collect(),
            )
        })
        .collect();
    let mut cycles = Vec::new();
    for start in g.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack = vec![(*start, vec![*start])];
        let mut seen = BTreeSet::new();
        while let Some((v, path)) = stack.pop() {
            for w in g.get(v).into_iter().flatten() {
                if *w == *start {
                    cycles.push(
                        path.iter()
                            .map(|m| m.join("::"))
                            .collect::<Vec<_>>()
                            .join(" → "),
                    );
                } else if seen.insert(*w) {
                    let mut p = path.clone();
                    p.push(w);
                    stack.push((w, p));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn imports_only_go_down_the_floors() {
    let (edges, files) = graph();
    assert!(
        files.len() > 50,
        "the source tree was read: {}",
        files.len()
    );
    let mut up = Vec::new();
    for (m, ds) in &edges {
        for d in ds {
            if is_ancestor(d, m) {
                continue;
            }
            if floor(d) > floor(m) {
                up.push(format!(
                    "{} (floor {}) imports {} (floor {})",
                    m.join("::"),
                    floor(m),
                    d.join("::"),
                    floor(d)
                ));
            }
        }
    }
    assert!(up.is_empty(), "upward imports:\n{}", up.join("\n"));
}

#[test]
fn the_detector_sees_a_cycle() {
    let files: BTreeMap<Module, PathBuf> = [
        vec!["crate".to_string(), "a".into()],
        vec!["crate".to_string(), "b".into()],
    ]
    .into_iter()
    .map(|m| (m, PathBuf::new()))
    .collect();
    let a = vec!["crate".to_string(), "a".into()];
    assert_eq!(
        resolve(&a, "crate::b::Thing", &files),
        Some(vec!["crate".to_string(), "b".into()])
    );
    assert_eq!(
        expand("crate::{a::{B, C}, d}"),
        ["crate::a::B", "crate::a::C", "crate::d"]
    );
}

/// A source file's own lines: tests in a sibling file (`tests.rs`, `*_tests.rs`, `tests/`) do
/// not count, nor an inline `#[cfg(test)] mod tests` at the end of a file.
fn own_lines(text: &str) -> usize {
    let end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
    text[..end].lines().count()
}

/// No source file grows past ~800 lines of its own (issue 8): a file that does should be split
/// at its seams, as `adapters/mlflow/` is (search, counts, logged, wire, map).
#[test]
fn no_source_file_over_800_lines() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let is_tests = |p: &Path| {
        p.components().any(|c| c.as_os_str() == "tests")
            || p.file_stem()
                .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
    };
    let mut long: Vec<(usize, String)> = files
        .iter()
        .filter(|p| !is_tests(p))
        .filter_map(|p| {
            let n = own_lines(&std::fs::read_to_string(p).ok()?);
            (n > 800).then(|| (n, p.display().to_string()))
        })
        .collect();
    long.sort();
    assert!(files.len() > 100, "the source tree was not found");
    assert!(long.is_empty(), "files over 800 lines: {long:?}");
    assert_eq!(
        own_lines("fn a() {}\n#[cfg(test)]\nmod tests {\nfn b() {}\n}\n"),
        1
    );
}
