//! A runs search's pages as the console holds them: which pages are held, where each begins,
//! and what placing a page read from the server drops at the other end (memory stays bounded
//! however large the experiment).

use mlops_core::{
    CoreError,
    model::{Run, RunPage},
};

/// A runs search as the Runs view asks it: one experiment, MLflow's filter and order, both
/// evaluated by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RunsKey {
    pub experiment_id: String,
    pub filter: String,
    pub order_by: Vec<String>,
}

/// The most pages of a runs search held at once (2,000 runs at the default page size): pages
/// scrolled far past are dropped and read again when scrolled back to, so memory stays bounded
/// however large the experiment.
pub const RUNS_WINDOW_PAGES: usize = 20;

/// The fewest runs a list keeps when it drops pages: many screenfuls, so that a page dropped at
/// one end never leaves the selection near the other (which would read it back, and drop the
/// first again, forever).
pub const RUNS_WINDOW_MIN_ROWS: usize = 1000;

/// How much of a runs search is held: at most `pages` pages, but never fewer than `rows` runs
/// after dropping one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub pages: usize,
    pub rows: usize,
}

/// A page of a runs search read so far: the token that reads it ("" for the first) and how
/// many runs it added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageMark {
    pub token: String,
    pub len: usize,
}

/// A window onto a runs search, in the server's order: the pages held, where they sit among
/// the pages read, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunList {
    /// The runs of the pages held (`held` pages from page `first`).
    pub runs: Vec<Run>,
    /// The token of the page after the last one read; `None` at the end of the search.
    pub next: Option<String>,
    /// Every page read so far, in order.
    pub pages: Vec<PageMark>,
    /// The first page held, and how many are.
    pub first: usize,
    pub held: usize,
    /// The server refused the search (`CoreError::Rejected`, with its message): the filter is
    /// wrong, the registry is up.
    pub rejected: Option<CoreError>,
}

/// What a page did to a list: runs added, and the tokens of pages dropped from it (read again
/// when scrolled back to).
#[derive(Debug, Default)]
pub struct PageEffect {
    pub added: usize,
    pub dropped: Vec<String>,
}

impl RunList {
    /// The runs before the first page held (dropped to bound memory).
    pub fn skipped(&self) -> usize {
        self.pages[..self.first].iter().map(|p| p.len).sum()
    }

    /// How many runs the pages read so far hold.
    pub fn read(&self) -> usize {
        self.pages.iter().map(|p| p.len).sum()
    }

    /// The token of the page before the first one held, when one was dropped.
    pub fn previous(&self) -> Option<&str> {
        self.first
            .checked_sub(1)
            .map(|i| self.pages[i].token.as_str())
    }

    /// The token of the page after the last one held: one read before and dropped, or the
    /// next one of the search.
    pub fn following(&self) -> Option<&str> {
        match self.pages.get(self.first + self.held) {
            Some(p) => Some(p.token.as_str()),
            None => self.next.as_deref(),
        }
    }

    /// A first page, over what was loaded before: runs of later pages stay (and where the list
    /// continues), so a refresh never takes away what the user scrolled to. Scrolled past the
    /// first page, the list stays as it is.
    pub(super) fn refreshed(old: Option<&RunList>, page: Result<RunPage, CoreError>) -> RunList {
        let page = match page {
            Ok(p) => p,
            Err(rejected) => {
                return RunList {
                    rejected: Some(rejected),
                    ..RunList::default()
                };
            }
        };
        let Some(old) = old.filter(|o| o.rejected.is_none() && !o.pages.is_empty()) else {
            return RunList {
                pages: vec![PageMark {
                    token: String::new(),
                    len: page.runs.len(),
                }],
                held: 1,
                next: page.next_page_token,
                runs: page.runs,
                first: 0,
                rejected: None,
            };
        };
        if old.first > 0 {
            return old.clone();
        }
        let fresh: std::collections::HashSet<&str> =
            page.runs.iter().map(|r| r.id.as_str()).collect();
        let mut list = RunList {
            pages: vec![PageMark {
                token: String::new(),
                len: page.runs.len(),
            }],
            runs: page.runs.clone(),
            first: 0,
            held: old.held,
            next: if old.pages.len() > 1 {
                old.next.clone()
            } else {
                page.next_page_token.clone()
            },
            rejected: None,
        };
        // The later pages, less runs the new first page now holds (they moved up).
        let mut at = old.pages[0].len;
        for (i, mark) in old.pages.iter().enumerate().skip(1) {
            let mut kept = 0;
            if i < old.held {
                for r in old.runs.get(at..at + mark.len).unwrap_or_default() {
                    if !fresh.contains(r.id.as_str()) {
                        list.runs.push(r.clone());
                        kept += 1;
                    }
                }
                at += mark.len;
            } else {
                kept = mark.len;
            }
            list.pages.push(PageMark {
                token: mark.token.clone(),
                len: kept,
            });
        }
        list
    }

    /// The page `token` reads, placed where it belongs: after the last page held (the next
    /// one, or one dropped before) or before the first (scrolling back). A page of an earlier
    /// search, or one already held, is ignored; a run already held is kept once. Past
    /// `window` pages, those at the other end are dropped.
    pub(super) fn place(&mut self, token: &str, page: RunPage, window: Window) -> PageEffect {
        let mut effect = PageEffect::default();
        let at_end = self.following() == Some(token);
        let at_start = !at_end && self.previous() == Some(token);
        if !at_end && !at_start {
            return effect;
        }
        let have: std::collections::HashSet<String> =
            self.runs.iter().map(|r| r.id.clone()).collect();
        let new: Vec<Run> = page
            .runs
            .into_iter()
            .filter(|r| !have.contains(&r.id))
            .collect();
        effect.added = new.len();
        if at_end {
            let index = self.first + self.held;
            self.runs.extend(new);
            if index == self.pages.len() {
                self.pages.push(PageMark {
                    token: token.to_string(),
                    len: effect.added,
                });
                self.next = page.next_page_token;
            } else {
                self.pages[index].len = effect.added;
            }
            self.held += 1;
            while self.held > window.pages.max(2)
                && self.runs.len() - self.pages[self.first].len.min(self.runs.len()) >= window.rows
            {
                let n = self.pages[self.first].len.min(self.runs.len());
                self.runs.drain(..n);
                effect.dropped.push(self.pages[self.first].token.clone());
                self.first += 1;
                self.held -= 1;
            }
        } else {
            self.first -= 1;
            self.pages[self.first].len = effect.added;
            self.runs.splice(0..0, new);
            self.held += 1;
            while self.held > window.pages.max(2)
                && self.runs.len()
                    - self.pages[self.first + self.held - 1]
                        .len
                        .min(self.runs.len())
                    >= window.rows
            {
                let last = self.first + self.held - 1;
                let n = self.pages[last].len.min(self.runs.len());
                self.runs.truncate(self.runs.len() - n);
                effect.dropped.push(self.pages[last].token.clone());
                self.held -= 1;
            }
        }
        effect
    }
}
