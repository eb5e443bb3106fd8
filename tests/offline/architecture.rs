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
const FLOORS: [(&str, u8); 15] = [
    ("mlops_core", 0),
    ("crate::files", 1),
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

/// Every path a file names, parsed by `syn` (comments and strings are not code): each path a
/// `use` tree expands to (`a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`), every path
/// written in place (`crate::app::rows::len(…)`), and the paths inside macro calls, read from
/// their tokens. Test modules (`#[cfg(test)] mod …`) are left out.
#[derive(Default)]
struct Paths(Vec<String>);

impl Paths {
    fn of_file(text: &str, path: &Path) -> Self {
        let file = syn::parse_file(text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut paths = Paths::default();
        syn::visit::Visit::visit_file(&mut paths, &file);
        paths
    }

    fn use_tree(&mut self, prefix: &str, tree: &syn::UseTree) {
        let join = |name: &dyn std::fmt::Display| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(p) => self.use_tree(&join(&p.ident), &p.tree),
            syn::UseTree::Name(n) => self.0.push(join(&n.ident)),
            syn::UseTree::Rename(r) => self.0.push(join(&r.ident)),
            syn::UseTree::Glob(_) => self.0.push(prefix.to_string()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// Paths in a macro's tokens: `crate`, `super`, `self` or `mlops_core` followed by `::name`s.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut current: Option<String> = None;
        let mut colons = 0;
        for t in tokens {
            match t {
                proc_macro2::TokenTree::Group(g) => {
                    self.flush(&mut current);
                    self.tokens(g.stream());
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' && current.is_some() => {
                    colons += 1;
                }
                proc_macro2::TokenTree::Ident(i) => {
                    let name = i.to_string();
                    match current.as_mut() {
                        Some(path) if colons == 2 => {
                            path.push_str("::");
                            path.push_str(&name);
                        }
                        _ => {
                            self.flush(&mut current);
                            if matches!(name.as_str(), "crate" | "super" | "self" | "mlops_core") {
                                current = Some(name);
                            }
                        }
                    }
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Literal(_) => {
                    self.flush(&mut current);
                    colons = 0;
                }
            }
        }
        self.flush(&mut current);
    }

    fn flush(&mut self, current: &mut Option<String>) {
        if let Some(p) = current.take() {
            self.0.push(p);
        }
    }
}

fn is_test_module(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl<'ast> syn::visit::Visit<'ast> for Paths {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree("", &u.tree);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_module(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let names: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.0.push(names.join("::"));
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
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
        let mut deps = BTreeSet::new();
        for path in Paths::of_file(&text, p).0 {
            if let Some(d) = resolve(m, &path, &files) {
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
    let code = r#"
        use crate::{a::{B, C}, d};
        // crate::e in a comment is not code, nor "crate::f" in a string.
        fn f() -> String { let _ = crate::g::h(); format!("{}", crate::i::J) }
        #[cfg(test)]
        mod tests { use crate::k; }
    "#;
    let paths = Paths::of_file(code, Path::new("test.rs")).0;
    for p in [
        "crate::a::B",
        "crate::a::C",
        "crate::d",
        "crate::g::h",
        "crate::i::J",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
    }
    for p in ["crate::e", "crate::f", "crate::k"] {
        assert!(!paths.iter().any(|x| x == p), "{p} not in {paths:?}");
    }
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
