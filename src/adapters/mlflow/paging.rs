//! The one way a multi-page MLflow answer is followed, with its bounds: at most so many pages
//! and items and a total deadline, and a page token seen before (not just the last one) ends
//! it. Every paging loop of the adapter (models, versions, experiments, runs, histories, logged
//! models) asks `Pager::next` after each page, so a server that hands out fresh tokens forever,
//! or goes round in a cycle, is an error that says the server keeps paging — never a loop that
//! runs until memory runs out.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

/// How far one paging loop may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Pages asked for at most.
    pub pages: usize,
    /// Items kept at most (a loop that wants fewer stops there by itself).
    pub items: usize,
    /// The whole loop's time, every page's call included.
    pub deadline: Duration,
}

impl Bounds {
    /// A listing's bounds (registered models, versions, experiments, an experiment's runs):
    /// 200 pages, 200,000 items, two minutes — far beyond any registry we know (MLflow pages
    /// 1,000 at a time), near enough that a server that never stops paging is caught within
    /// seconds and megabytes, not minutes and gigabytes.
    pub const LISTING: Bounds = Bounds {
        pages: 200,
        items: 200_000,
        deadline: Duration::from_secs(120),
    };

    /// A metric's history: 5,000,000 points (a step a point: longer than any training run we
    /// know), 1,000 pages.
    pub const HISTORY: Bounds = Bounds {
        pages: 1_000,
        items: 5_000_000,
        deadline: Duration::from_secs(120),
    };

    /// Up to `items` items at `page_size` a page: the pages that takes and a few more (pages
    /// may repeat items the loop drops, or come back short).
    pub fn up_to(items: usize, page_size: u32) -> Bounds {
        let per_page = usize::try_from(page_size.max(1)).unwrap_or(usize::MAX);
        Bounds {
            pages: items.div_ceil(per_page).saturating_add(SLACK_PAGES),
            items,
            ..Bounds::LISTING
        }
    }
}

/// Pages beyond what `up_to`'s items need: short or repeated pages.
const SLACK_PAGES: usize = 10;

/// A paging loop in progress.
#[derive(Debug)]
pub struct Pager {
    bounds: Bounds,
    started: Instant,
    pages: usize,
    items: usize,
    seen: HashSet<String>,
}

impl Pager {
    pub fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            started: Instant::now(),
            pages: 0,
            items: 0,
            seen: HashSet::new(),
        }
    }

    /// After a page that brought `added` items and named `token` as the next: the token to
    /// ask for, `None` at the end; an error (in words) when the server goes in circles or a
    /// bound is reached with pages still to come.
    pub fn next(&mut self, added: usize, token: Option<String>) -> Result<Option<String>, String> {
        self.pages += 1;
        self.items = self.items.saturating_add(added);
        let Some(t) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if !self.seen.insert(t.clone()) {
            return Err(format!(
                "the server returned page token {:?} twice; stopping instead of looping",
                mlops_core::text::truncate(&t, 64)
            ));
        }
        let elapsed = self.started.elapsed();
        let hit = if self.pages >= self.bounds.pages {
            Some(format!("{} pages", self.bounds.pages))
        } else if self.items >= self.bounds.items {
            Some(format!("{} items", self.bounds.items))
        } else if elapsed >= self.bounds.deadline {
            Some(format!("{} s", self.bounds.deadline.as_secs()))
        } else {
            None
        };
        match hit {
            Some(bound) => Err(format!(
                "the server keeps paging: {} pages and {} items in {:.0} s and still a next \
                 page; stopped at the bound of {bound}",
                self.pages,
                self.items,
                elapsed.as_secs_f64()
            )),
            None => Ok(Some(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tokens_forever_stop_at_the_page_bound() {
        let mut p = Pager::new(Bounds {
            pages: 5,
            items: usize::MAX,
            deadline: Duration::from_secs(60),
        });
        let mut n = 0;
        let err = loop {
            n += 1;
            match p.next(0, Some(format!("tok{n}"))) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 5);
        assert!(
            err.contains("keeps paging") && err.contains("5 pages"),
            "{err}"
        );
    }

    #[test]
    fn a_cycle_of_tokens_is_caught_not_only_a_repeat_of_the_last() {
        let mut p = Pager::new(Bounds::LISTING);
        assert_eq!(p.next(1, Some("A".into())), Ok(Some("A".into())));
        assert_eq!(p.next(1, Some("B".into())), Ok(Some("B".into())));
        let err = p.next(1, Some("A".into())).expect_err("A again");
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn items_and_the_end_of_the_pages() {
        let mut p = Pager::new(Bounds::up_to(2_500, 1_000));
        assert_eq!(p.next(1_000, Some("a".into())), Ok(Some("a".into())));
        assert_eq!(p.next(1_000, Some("b".into())), Ok(Some("b".into())));
        assert!(
            p.next(1_000, Some("c".into())).is_err(),
            "2,500 items reached"
        );
        let mut p = Pager::new(Bounds::LISTING);
        assert_eq!(p.next(3, None), Ok(None));
        assert_eq!(
            p.next(3, Some(String::new())),
            Ok(None),
            "an empty token ends it"
        );
        assert_eq!(p.pages, 2);
    }
}
