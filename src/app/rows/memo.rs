//! Rows worked out once: each list's visible order is kept per (data version, filter, sort) and
//! worked out again only when one of them changes, so neither a frame nor a keystroke computes
//! the same rows twice (the way a table model sorts once when data arrives). Layered so that a
//! filter keystroke redoes only the filtering: the list's own order and the sorted order are kept
//! per data version (and sort), and each row's searchable text (its cells, lowercased) is worked
//! out once per data version. Rendering reads through `&App`; the memo fills itself on first
//! use, behind a `RefCell`.

use std::{
    any::Any,
    cell::{Cell, RefCell},
    cmp::Ordering,
    collections::HashMap,
    rc::Rc,
};

use super::{
    filter::FilterText,
    table::{Column, Sort, Value},
};

/// What a list's rows were worked out from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The version of the data the rows come from (`Feed::version`, or several combined).
    pub data: u64,
    /// The filter's text ("" for layers before filtering).
    pub filter: String,
    pub sort: Option<Sort>,
    /// Anything else the rows depend on (the chosen columns of a runs table, say).
    pub extra: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    list: &'static str,
    layer: &'static str,
    key: Key,
}

/// How many results one list keeps (its layers, for a few filters or sorts: the Overview's
/// panel and the list's own view share a list).
const PER_LIST: usize = 8;

/// A value kept, with when it was last used.
type Entry = (u64, Rc<dyn Any>);

/// The rows worked out for the lists on show.
#[derive(Default)]
pub struct Memo {
    entries: RefCell<HashMap<Slot, Entry>>,
    clock: Cell<u64>,
    /// How many times rows were worked out (tests check that a frame works out none).
    computed: Cell<u64>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("entries", &self.entries.borrow().len())
            .field("clock", &self.clock.get())
            .field("computed", &self.computed.get())
            .finish()
    }
}

impl Memo {
    /// The value kept for (`list`, `layer`, `key`), or `compute`d and kept.
    pub fn get<T: 'static>(
        &self,
        list: &'static str,
        layer: &'static str,
        key: &Key,
        compute: impl FnOnce() -> T,
    ) -> Rc<T> {
        let slot = Slot {
            list,
            layer,
            key: key.clone(),
        };
        let tick = self.clock.get() + 1;
        self.clock.set(tick);
        if let Some((used, v)) = self.entries.borrow_mut().get_mut(&slot)
            && let Ok(v) = Rc::clone(v).downcast::<T>()
        {
            *used = tick;
            return v;
        }
        // Worked out with no borrow held: a layer asks for the layer under it.
        let value = Rc::new(compute());
        self.computed.set(self.computed.get() + 1);
        let mut entries = self.entries.borrow_mut();
        let mine: Vec<(u64, Slot)> = entries
            .iter()
            .filter(|(s, _)| s.list == list)
            .map(|(s, (used, _))| (*used, s.clone()))
            .collect();
        if mine.len() >= PER_LIST
            && let Some((_, oldest)) = mine.iter().min_by_key(|(used, _)| *used)
        {
            entries.remove(oldest);
        }
        entries.insert(slot, (tick, Rc::clone(&value) as Rc<dyn Any>));
        value
    }

    /// How many times rows were worked out so far.
    pub fn computed(&self) -> u64 {
        self.computed.get()
    }

    /// Forget what was worked out in `layers` ("visible", "keys", "sorted", …), so the next
    /// use works it out again: how a benchmark measures a keystroke whose filter was never
    /// typed before, or a sort not asked for before, on data whose other layers are kept.
    pub fn forget(&self, layers: &[&str]) {
        self.entries
            .borrow_mut()
            .retain(|slot, _| !layers.contains(&slot.layer));
    }
}

/// A list's own order: indices into its items.
pub type Order<R> = dyn Fn(&[R]) -> Vec<u32>;

/// A list to work out: its items in the source's order, and how to describe them.
pub struct List<'a, 'c, R> {
    /// The memo's name for the list.
    pub name: &'static str,
    /// The version of the data `items` come from.
    pub data: u64,
    /// Anything else the rows depend on.
    pub extra: u64,
    pub items: &'a [R],
    pub columns: &'c [Column<R>],
    /// Field names the filter accepts besides the columns'.
    pub fields: &'c [&'static str],
    /// The list's own order (before any sort the user chose), as indices into `items`;
    /// `None`: the source's order.
    pub order: Option<&'c Order<R>>,
}

impl<'a, R> List<'a, '_, R> {
    /// The items `filter` keeps, in `sort`'s order (`visible`'s rows).
    pub fn rows(&self, memo: &Memo, filter: &FilterText, sort: Option<Sort>) -> Vec<&'a R> {
        let items = self.items;
        self.visible(memo, filter, sort)
            .iter()
            .map(|&i| &items[i as usize])
            .collect()
    }

    fn key(&self, filter: &str, sort: Option<Sort>) -> Key {
        Key {
            data: self.data,
            filter: filter.to_string(),
            sort,
            extra: self.extra,
        }
    }

    /// The names a filter's field terms may use on this list.
    pub fn field_names(&self) -> Vec<&'static str> {
        super::filter::names_of(self.columns, self.fields)
    }

    /// The indices into `items` of the rows `filter` keeps, in `sort`'s order (stable: ties
    /// keep the list's own order).
    pub fn visible(&self, memo: &Memo, filter: &FilterText, sort: Option<Sort>) -> Rc<Vec<u32>> {
        let sort = sort.filter(|s| self.columns.iter().any(|c| c.field == s.field));
        memo.get(self.name, "visible", &self.key(filter.text(), sort), || {
            let sorted = self.sorted(memo, sort);
            let parsed = filter.parsed().applicable(&self.field_names());
            if parsed.is_empty() {
                return sorted.to_vec();
            }
            let texts = parsed.needs_text().then(|| self.texts(memo));
            sorted
                .iter()
                .copied()
                .filter(|&i| {
                    let item = &self.items[i as usize];
                    let text = texts.as_ref().map_or("", |t| &t[i as usize]);
                    parsed.matches_row(text, &|name| {
                        self.columns
                            .iter()
                            .find(|c| c.field.eq_ignore_ascii_case(name))
                            .or_else(|| {
                                self.columns
                                    .iter()
                                    .find(|c| c.header.eq_ignore_ascii_case(name))
                            })
                            .map(|c| {
                                let v = (c.value)(item);
                                (v.text, v.number)
                            })
                    })
                })
                .collect()
        })
    }

    /// Every item in the list's own order, then by `sort`.
    fn sorted(&self, memo: &Memo, sort: Option<Sort>) -> Rc<Vec<u32>> {
        memo.get(self.name, "sorted", &self.key("", sort), || {
            let own = self.own_order(memo);
            let Some(col) = sort.and_then(|s| self.columns.iter().find(|c| c.field == s.field))
            else {
                return own.to_vec();
            };
            let descending = sort.is_some_and(|s| s.descending);
            // Each item's value once, its text lowercased once: not once per comparison.
            let keys: Vec<(Option<f64>, String)> = own
                .iter()
                .map(|&i| {
                    let v: Value = (col.value)(&self.items[i as usize]);
                    (v.number, v.text.to_lowercase())
                })
                .collect();
            let mut order: Vec<usize> = (0..own.len()).collect();
            order.sort_by(|&a, &b| {
                let o = compare(&keys[a], &keys[b]);
                if descending { o.reverse() } else { o }
            });
            order.into_iter().map(|p| own[p]).collect()
        })
    }

    fn own_order(&self, memo: &Memo) -> Rc<Vec<u32>> {
        memo.get(self.name, "own", &self.key("", None), || match self.order {
            Some(order) => order(self.items),
            None => (0..u32::try_from(self.items.len()).unwrap_or(u32::MAX)).collect(),
        })
    }

    /// Each item's cells joined by newlines and lowercased, for words and regular expressions.
    fn texts(&self, memo: &Memo) -> Rc<Vec<Box<str>>> {
        memo.get(self.name, "texts", &self.key("", None), || {
            self.items
                .iter()
                .map(|item| {
                    let mut s = String::new();
                    for c in self.columns {
                        if !s.is_empty() {
                            s.push('\n');
                        }
                        s.push_str(&(c.value)(item).text);
                    }
                    s.make_ascii_lowercase();
                    s.into_boxed_str()
                })
                .collect()
        })
    }
}

/// Numbers before texts, numbers as numbers, texts (lowercased) as texts.
fn compare(x: &(Option<f64>, String), y: &(Option<f64>, String)) -> Ordering {
    match (x.0, y.0) {
        (Some(p), Some(q)) => p.total_cmp(&q),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => x.1.cmp(&y.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::rows::table::{Elide, Width};

    fn columns() -> Vec<Column<(&'static str, f64)>> {
        vec![
            Column {
                field: "name",
                header: "NAME",
                sort_key: Some('N'),
                priority: 0,
                width: Width::Flex { min: 4, max: 0 },
                right: false,
                elide: Elide::Middle,
                value: Box::new(|r: &(&str, f64)| Value::text(r.0)),
            },
            Column {
                field: "weight",
                header: "W",
                sort_key: Some('W'),
                priority: 0,
                width: Width::Fixed(4),
                right: true,
                elide: Elide::Middle,
                value: Box::new(|r: &(&str, f64)| Value::number(r.1, r.1.to_string())),
            },
        ]
    }

    #[test]
    fn rows_are_worked_out_once_per_data_filter_and_sort() {
        let memo = Memo::default();
        let items = [("Churn", 3.0), ("fraud", 1.0), ("churn-b", 2.0)];
        let cols = columns();
        let list = |data| List {
            name: "t",
            data,
            extra: 0,
            items: &items,
            columns: &cols,
            fields: &[],
            order: None,
        };
        let churn = FilterText::new("churn");
        let by_weight = Some(Sort {
            field: "weight",
            descending: false,
        });
        assert_eq!(*list(1).visible(&memo, &churn, by_weight), vec![2, 0]);
        let n = memo.computed();
        assert_eq!(*list(1).visible(&memo, &churn, by_weight), vec![2, 0]);
        assert_eq!(memo.computed(), n, "the same key is not worked out again");
        // Another filter: only the filtering is redone (the sorted order and texts are kept).
        assert_eq!(
            *list(1).visible(&memo, &FilterText::new("weight>1"), by_weight),
            vec![2, 0]
        );
        assert_eq!(memo.computed(), n + 1);
        // New data: everything again.
        assert_eq!(*list(2).visible(&memo, &churn, None), vec![0, 2]);
        assert!(memo.computed() > n + 2);
    }

    #[test]
    fn a_regex_anchors_at_each_cell() {
        let memo = Memo::default();
        let items = [("churn", 3.0), ("fraud", 1.0)];
        let cols = columns();
        let list = List {
            name: "t",
            data: 1,
            extra: 0,
            items: &items,
            columns: &cols,
            fields: &[],
            order: None,
        };
        assert_eq!(
            *list.visible(&memo, &FilterText::new("/^1$/"), None),
            vec![1]
        );
        assert_eq!(
            *list.visible(&memo, &FilterText::new("/churn.3/"), None),
            Vec::<u32>::new(),
            "a regex does not run from one cell into the next"
        );
    }
}
