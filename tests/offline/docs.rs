//! The documentation: the book under `docs/` and the README. The command-line reference
//! (`docs/src/reference/cli.md`) is what the clap definitions generate; every relative link and
//! image in `README.md` and `docs/src/` reaches a file (and a heading, for a `#anchor`); every page
//! is in `SUMMARY.md` and every entry there is a page; the README stays at most 250 lines.
//! Offline: reads files only, needs no backend.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

const CLI_REFERENCE: &str = "docs/src/reference/cli.md";
const README_MAX_LINES: usize = 250;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every Markdown file under `dir`, sorted.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "md") {
            out.push(path);
        }
    }
    out.sort();
}

/// The README and every page of the book.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    markdown_files(&root().join("docs/src"), &mut files);
    files
}

#[test]
fn cli_reference_is_generated_from_the_clap_definitions() {
    let path = root().join(CLI_REFERENCE);
    let generated = mlops_console::cli::reference::markdown();
    if std::env::var("MLOPS_BLESS_DOCS").is_ok_and(|v| !v.is_empty() && v != "0") {
        fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("{}: cannot write: {e}", path.display()));
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()))
            + 1;
        panic!(
            "{CLI_REFERENCE} is not what the clap definitions generate (first difference at line \
             {line}: {:?} where {:?} is generated).\nRegenerate it with \
             `MLOPS_BLESS_DOCS=1 cargo test --test docs` and commit the file.",
            committed.lines().nth(line - 1).unwrap_or("<end of file>"),
            generated.lines().nth(line - 1).unwrap_or("<end of file>"),
        );
    }
}

/// The text with fenced code blocks and code spans blanked out (newlines kept, so offsets still
/// give line numbers): a `](` or a `#` inside code is an example, not a link or a heading.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<&str> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        let in_block = fence.is_some();
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m && trimmed.trim_end() == m => fence = None,
            _ => {}
        }
        if in_block || marker.is_some() {
            out.extend(line.chars().map(|c| if c == '\n' { c } else { ' ' }));
        } else {
            out.push_str(line);
        }
    }
    blank_code_spans(&out)
}

/// A run of n backticks opens a code span that the next run of exactly n closes, within the
/// paragraph; an unclosed run is literal text.
fn blank_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '\n' && chars.get(j + 1) == Some(&'\n') {
                break;
            }
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                for c in &mut out[i + n..j] {
                    if *c != '\n' {
                        *c = ' ';
                    }
                }
                i = j + n;
            }
            None => i += n,
        }
    }
    out.into_iter().collect()
}

/// Every link and image target in a file, with its line: `[text](target)`, `![alt](target)`
/// and reference definitions `[label]: target`.
fn links(text: &str) -> Vec<(usize, String)> {
    let prose = prose(text);
    let line_of = |offset: usize| prose[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (offset, _) in prose.match_indices("](") {
        let rest = &prose[offset + 2..];
        let Some(end) = rest.find(')') else { continue };
        let inner = rest[..end].trim();
        let target = match inner.strip_prefix('<') {
            Some(t) => t.split('>').next().unwrap_or_default(),
            None => inner.split_whitespace().next().unwrap_or_default(),
        };
        found.push((line_of(offset), target.to_string()));
    }
    for (n, line) in prose.lines().enumerate() {
        let t = line.trim_start();
        if let (true, Some(close)) = (t.starts_with('['), t.find("]:")) {
            let target = t[close + 2..].split_whitespace().next().unwrap_or_default();
            found.push((n + 1, target.to_string()));
        }
    }
    found
}

/// The anchors mdBook gives a file's headings: the heading's text without Markdown, lowercase,
/// whitespace to `-`, every other character than letters, digits, `-` and `_` dropped; a
/// repeated anchor gets `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in text_outside_fences(text).lines() {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim();
        let slug: String = title
            .chars()
            .filter(|c| !matches!(c, '`' | '*'))
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_ascii_lowercase())
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    out
}

/// The text with fenced code blocks blanked, code spans kept (a heading's text may have them).
fn text_outside_fences(text: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_block = !in_block;
            out.push('\n');
            continue;
        }
        if !in_block {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// What is wrong with one link of `file`, if anything.
fn check_link(file: &Path, text: &str, target: &str) -> Option<String> {
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| target.starts_with(p))
    {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent()
            .unwrap_or(Path::new("."))
            .join(path.replace("%20", " "))
    };
    if !resolved.exists() {
        return Some(format!("no such file: {}", shown(&resolved)));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if resolved.extension().is_none_or(|x| x != "md") {
        return None;
    }
    let own = if path.is_empty() {
        text.to_string()
    } else {
        read(&resolved)
    };
    (!anchors(&own).contains(anchor)).then(|| {
        format!(
            "{} has no heading with the anchor #{anchor}",
            shown(&resolved)
        )
    })
}

#[test]
fn every_relative_link_and_image_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = read(&file);
        for (line, target) in links(&text) {
            checked += 1;
            if let Some(problem) = check_link(&file, &text, &target) {
                broken.push(format!("{}:{line}: ({target}): {problem}", shown(&file)));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser broken?"
    );
    assert!(
        broken.is_empty(),
        "{} broken links:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn every_page_is_in_the_summary_and_every_entry_is_a_page() {
    let src = root().join("docs/src");
    let summary = src.join("SUMMARY.md");
    let text = read(&summary);
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for (line, target) in links(&text) {
        let page = src.join(&target);
        if target.contains('#') || !page.is_file() {
            problems.push(format!(
                "{}:{line}: ({target}): not a page under docs/src/",
                shown(&summary)
            ));
        }
        listed.insert(page);
    }
    let mut pages = Vec::new();
    markdown_files(&src, &mut pages);
    for page in pages.into_iter().filter(|p| *p != summary) {
        if !listed.contains(&page) {
            problems.push(format!(
                "{}: not listed in {}",
                shown(&page),
                shown(&summary)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn readme_is_at_most_250_lines() {
    let readme = root().join("README.md");
    let lines = read(&readme).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into the book \
         (docs/src/) and link to it"
    );
}

#[test]
fn anchors_are_made_as_mdbook_makes_them() {
    let text = "# The filter (`/`)\n## Runs, the server's filter\n```toml\n# not a heading\n```\n## Runs, the server's filter\n";
    let got: Vec<String> = anchors(text).into_iter().collect();
    assert_eq!(
        got,
        [
            "runs-the-servers-filter",
            "runs-the-servers-filter-1",
            "the-filter-"
        ]
    );
    let found = links(
        "see [a](x.md#y) and `[b](not.md)`\n```\n[c](z.md)\n```\n![i](p.png \"t\")\n[r]: q.md\n",
    );
    let targets: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(targets, ["x.md#y", "p.png", "q.md"]);
}
