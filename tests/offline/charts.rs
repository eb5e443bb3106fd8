//! The charts without colour (issue 22, item 5): every series has a glyph of its own as well as a
//! colour, named in a legend outside the plot; the 16-colour series palette has no two alike and
//! not the text's colour; the scatter names the point it points at; the drift histogram's two
//! sides differ by glyph; the run detail's curves have their values on the axis. Over the demo
//! (`mlops demo --seed 7`) at a fixed time, at 80×24 and 120×40, in 16 colours and with NO_COLOR.

use mlops_console::{
    app::App,
    config::{ColorDepth, Theme},
    testing::{loaded_demo, press},
    ui,
};
use ratatui::{Terminal, backend::TestBackend, buffer::Buffer, style::Color};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// Three runs marked, then compared: the history of their first metric.
const COMPARE_3: &[&str] = &["2", "enter", "space", "space", "space", "c"];
/// Six runs marked, then compared.
const COMPARE_6: &[&str] = &[
    "2", "enter", "space", "space", "space", "space", "space", "space", "c",
];

#[derive(Clone, Copy)]
enum Colours {
    /// `TERM=screen`: the dark theme reduced to 16 colours.
    Ansi16,
    /// `NO_COLOR`: the monochrome theme.
    None,
}

fn app_at(keys: &[&str], size: (u16, u16), colours: Colours) -> App {
    let (mut app, _, ctx) = loaded_demo(size);
    for k in keys {
        press(&mut app, &ctx, k);
    }
    app.prefs.theme = match colours {
        Colours::Ansi16 => {
            let mut t = Theme::embedded("dark");
            t.reduce(ColorDepth::Ansi16);
            t
        }
        Colours::None => Theme::embedded("monochrome"),
    };
    app
}

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal
}

/// The buffer's rows as text, one `String` per row (a cell a char).
fn rows(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// The compared runs' names, as the table's header shows them.
fn run_names(app: &App) -> Vec<String> {
    let c = mlops_console::app::rows::comparison(app, app.screen()).expect("a comparison");
    c.headers()
}

fn is_braille(c: char) -> bool {
    ('\u{2800}'..='\u{28ff}').contains(&c)
}

/// Where the legend names `name`: (column of its glyph, row), below `from_row`; the glyph is the
/// character before the space before the name.
fn legend_entry(rows: &[String], from_row: usize, name: &str) -> Option<(usize, usize, char)> {
    rows.iter().enumerate().skip(from_row).find_map(|(y, row)| {
        let chars: Vec<char> = row.chars().collect();
        let name: Vec<char> = name.chars().collect();
        (2..chars.len().saturating_sub(name.len())).find_map(|x| {
            (chars[x..x + name.len()] == name[..]
                && chars[x - 1] == ' '
                && !matches!(chars[x - 2], ' ' | '│' | '╭' | '╰' | '─'))
            .then_some((x - 2, y, chars[x - 2]))
        })
    })
}

/// The first row of the chart: the row after the table's bottom border.
fn chart_top(rows: &[String]) -> usize {
    rows.iter()
        .position(|r| r.starts_with('╰'))
        .expect("the table's bottom border")
        + 1
}

/// Every run named in the legend with a glyph of its own, on a row of its own under the plot
/// (no braille of the curves on it), each glyph also drawn in the plot above. Returns the
/// glyphs' cells.
fn check_legend(screen: &[String], names: &[String]) -> Vec<(usize, usize, char)> {
    let top = chart_top(screen);
    let text = screen.join("\n");
    let entries: Vec<(usize, usize, char)> = names
        .iter()
        .map(|n| {
            legend_entry(screen, top, n)
                .unwrap_or_else(|| panic!("no legend entry names {n}:\n{text}"))
        })
        .collect();
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            assert_ne!(a.2, b.2, "two runs share the glyph {}:\n{text}", a.2);
        }
        let row = &screen[a.1];
        assert!(
            !row.chars().any(is_braille),
            "a curve is drawn over the legend row {row:?}:\n{text}"
        );
        let in_plot = screen[top + 1..a.1]
            .iter()
            .filter(|r| !r.contains("step") && !r.contains('└'))
            .any(|r| r.contains(a.2));
        assert!(in_plot, "the glyph {} is not in the plot:\n{text}", a.2);
    }
    entries
}

/// The compared histories name every run with its own glyph, under the plot, at 80×24 and
/// 120×40 with NO_COLOR.
#[test]
fn compare_history_legend_without_colour() {
    for (w, h) in SIZES {
        let app = app_at(COMPARE_3, (w, h), Colours::None);
        let t = draw(&app);
        let screen = rows(t.backend().buffer());
        check_legend(&screen, &run_names(&app));
        insta::assert_snapshot!(format!("compare_history_no_color_{w}x{h}"), t.backend());
    }
}

/// In 16 colours each run's glyph has a colour of its own, and none is the text's colour.
fn check_colours(t: &Terminal<TestBackend>, app: &App, entries: &[(usize, usize, char)]) {
    let buf = t.backend().buffer();
    let text_fg = app.prefs.theme.text.fg;
    let fgs: Vec<Color> = entries
        .iter()
        .map(|(x, y, _)| buf[(u16::try_from(*x).expect("x"), u16::try_from(*y).expect("y"))].fg)
        .collect();
    for (i, a) in fgs.iter().enumerate() {
        assert_ne!(Some(*a), text_fg, "a run is in the text's colour: {fgs:?}");
        assert!(
            !matches!(a, Color::Reset | Color::Indexed(_) | Color::Rgb(..)),
            "{fgs:?}"
        );
        for b in &fgs[i + 1..] {
            assert_ne!(a, b, "two runs share a colour: {fgs:?}");
        }
    }
}

/// The compared histories in 16 colours: glyphs and distinct colours, at both sizes.
#[test]
fn compare_history_legend_in_16_colours() {
    for (w, h) in SIZES {
        let app = app_at(COMPARE_3, (w, h), Colours::Ansi16);
        let t = draw(&app);
        let screen = rows(t.backend().buffer());
        let entries = check_legend(&screen, &run_names(&app));
        check_colours(&t, &app, &entries);
        insta::assert_snapshot!(format!("compare_history_16_colours_{w}x{h}"), t.backend());
    }
}

/// Six runs (the walk's `│dapper-doe-136⠉││`): the legend is whole and not overdrawn, and in 16
/// colours run 1 and run 6 no longer share a colour.
#[test]
fn six_runs_legend_is_whole_and_distinct() {
    for (w, h) in SIZES {
        let app = app_at(COMPARE_6, (w, h), Colours::Ansi16);
        let t = draw(&app);
        let screen = rows(t.backend().buffer());
        let names = run_names(&app);
        assert_eq!(names.len(), 6);
        let entries = check_legend(&screen, &names);
        check_colours(&t, &app, &entries);
        if w >= 120 {
            insta::assert_snapshot!(format!("compare_history_6_runs_{w}x{h}"), t.backend());
        }
    }
}

/// The walk's scatter: four runs, accuracy (`x`) against auc (`j`). Every run with both values
/// is a glyph of its own in the plot, named in the legend under it, none hidden under a legend;
/// the point of the best run on the y axis is named with its values.
#[test]
fn scatter_names_every_point_and_the_best() {
    let keys = [
        "2", "enter", "space", "space", "space", "space", "c", "j", "j", "j", "j", "j", "j", "x",
        "j",
    ];
    for (w, h) in SIZES {
        for colours in [Colours::None, Colours::Ansi16] {
            let app = app_at(&keys, (w, h), colours);
            let t = draw(&app);
            let screen = rows(t.backend().buffer());
            let text = screen.join("\n");
            assert!(
                text.contains("metrics.auc against metrics.accuracy"),
                "{text}"
            );
            let names = run_names(&app);
            assert_eq!(names.len(), 4);
            let entries = check_legend(&screen, &names);
            if matches!(colours, Colours::Ansi16) {
                check_colours(&t, &app, &entries);
            }
            assert!(
                screen
                    .iter()
                    .any(|r| r.contains("▶ ") && r.contains("x=") && r.contains("y=")),
                "the best point named with its values:\n{text}"
            );
        }
        let app = app_at(&keys, (w, h), Colours::None);
        insta::assert_snapshot!(
            format!("compare_scatter_no_color_{w}x{h}"),
            draw(&app).backend()
        );
    }
}

/// UX walk M9: the scatter named only the best run; `>` and `<` now point at each run in turn,
/// named under the plot with its values (a run with no value to plot says so).
#[test]
fn the_scatter_points_at_each_run_with_its_values() {
    let mut keys = vec![
        "2", "enter", "space", "space", "space", "space", "c", "j", "j", "j", "j", "j", "j", "x",
        "j",
    ];
    let app = app_at(&keys, (120, 40), Colours::None);
    let names = run_names(&app);
    for (i, name) in names.iter().enumerate() {
        keys.push(">");
        let app = app_at(&keys, (120, 40), Colours::None);
        let text = rows(draw(&app).backend().buffer()).join("\n");
        assert!(
            text.lines()
                .any(|l| l.contains("▶ ") && l.contains(name.as_str()) && l.contains("x=")),
            "run {i} ({name}) pointed at:\n{text}"
        );
    }
    // Round again (`>` from the last is the first), then back: `<` from the first is the last.
    keys.push(">");
    keys.push(">");
    keys.push("<");
    keys.push("<");
    let app = app_at(&keys, (120, 40), Colours::None);
    let text = rows(draw(&app).backend().buffer()).join("\n");
    let last = names.last().expect("runs");
    assert!(
        text.lines()
            .any(|l| l.contains("▶ ") && l.contains(last.as_str())),
        "{text}"
    );
}

/// The drift detail's histogram with NO_COLOR: stable (or the reference) and canary (or the
/// current window) differ by glyph, in the legend and in the bars.
#[test]
fn drift_histogram_sides_differ_without_colour() {
    for (w, h) in SIZES {
        let app = app_at(&["4", "enter"], (w, h), Colours::None);
        let t = draw(&app);
        let screen = rows(t.backend().buffer());
        let text = screen.join("\n");
        // The glyph a legend puts before `word` on `row`, if the word has one.
        let glyph_before = |row: &str, word: &str| {
            let at = row.find(&format!(" {word}"))?;
            row[..at]
                .chars()
                .last()
                .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
        };
        let (stable, canary) = screen
            .iter()
            .find_map(|r| Some((glyph_before(r, "stable")?, glyph_before(r, "canary")?)))
            .unwrap_or_else(|| panic!("the histogram's legend:\n{text}"));
        let legend = format!("{stable} stable {canary} canary");
        assert_ne!(stable, canary, "two identical glyphs: {legend}");
        for g in [stable, canary] {
            assert!(
                screen.iter().any(|r| r.contains(&g.to_string().repeat(3))),
                "no bar drawn with {g}:\n{text}"
            );
        }
        insta::assert_snapshot!(format!("drift_histogram_no_color_{w}x{h}"), t.backend());
    }
}

/// The run detail's curves, each on its own scale, with each metric's lowest and highest value
/// written under the chart.
#[test]
fn run_detail_charts_have_axis_values() {
    for (w, h) in SIZES {
        let app = app_at(&["2", "enter", "enter"], (w, h), Colours::None);
        let t = draw(&app);
        let screen = rows(t.backend().buffer());
        let text = screen.join("\n");
        let chart: Vec<String> = screen
            .iter()
            .filter_map(|r| r.split_once("││").map(|(_, right)| right.to_string()))
            .collect();
        assert!(!chart.is_empty(), "{text}");
        let run = mlops_console::app::rows::lineage::find_run(&app, app_run_id(&app).as_str())
            .expect("the run");
        let entries: Vec<(usize, char)> = run
            .metrics
            .keys()
            .map(|m| {
                chart
                    .iter()
                    .enumerate()
                    .find_map(|(i, r)| {
                        let at = r.find(&format!(" {m} "))?;
                        let glyph = r[..at].chars().last()?;
                        let rest = &r[at + m.len() + 2..];
                        (rest.starts_with("min ") && rest.contains(" max ")).then_some((i, glyph))
                    })
                    .unwrap_or_else(|| panic!("no min and max of {m}:\n{text}"))
            })
            .collect();
        for (i, a) in entries.iter().enumerate() {
            for b in &entries[i + 1..] {
                assert_ne!(a.1, b.1, "two metrics share a glyph:\n{text}");
            }
        }
        insta::assert_snapshot!(format!("run_detail_axis_values_{w}x{h}"), t.backend());
    }
}

fn app_run_id(app: &App) -> String {
    match &app.screen().kind {
        mlops_console::app::screens::ScreenKind::RunDetail { run_id, .. } => run_id.clone(),
        other => panic!("not a run's detail: {other:?}"),
    }
}

/// The drift table's rows at 120×40: (PSI, KS p as shown, PSI trend).
fn drift_rows(colours: Colours) -> (Vec<(f64, String, String)>, String) {
    let app = app_at(&["4"], (120, 40), colours);
    let screen = rows(draw(&app).backend().buffer());
    let text = screen.join("\n");
    let rows = screen
        .iter()
        .filter(|r| r.contains(" window ") || r.contains(" stable v"))
        .map(|r| {
            let cells: Vec<&str> = r.trim_matches('│').split_whitespace().collect();
            let n = cells.len();
            let psi = cells[n - 6].parse().expect("the PSI");
            (psi, cells[n - 4].to_string(), cells[n - 1].to_string())
        })
        .collect();
    (rows, text)
}

/// The walk: p-values read `8.1e-29`, `4.27e-1`, ` 1.00e0`, `0.00e0`. Now one format: three
/// significant digits from 0.001 (`0.427`, `1.00`), two in exponent form under it (`8.1e-29`),
/// `<1e-300` where the number underflowed.
#[test]
fn drift_p_values_share_one_format() {
    let (rows, text) = drift_rows(Colours::None);
    assert!(rows.len() > 5, "{text}");
    let one_format = |p: &str| {
        if p == "<1e-300" {
            return true;
        }
        if let Some((mantissa, exp)) = p.split_once("e-") {
            return mantissa.len() == 3
                && mantissa.as_bytes()[1] == b'.'
                && mantissa.as_bytes()[0] != b'0'
                && exp.parse::<u32>().is_ok_and(|e| e >= 3);
        }
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        let significant = digits.trim_start_matches('0');
        p.parse::<f64>().is_ok_and(|v| (0.001..=1.0).contains(&v)) && significant.len() == 3
    };
    for (_, p, _) in &rows {
        assert!(one_format(p), "p-value {p:?} is in another format:\n{text}");
    }
}

/// The walk: each PSI trend was scaled to its own row, so 0.305 and 0.045 looked equally high.
/// On one scale, a feature whose PSI is under a tenth of the largest shown never reaches above
/// the two lowest ticks, and the table says the trends share a scale.
#[test]
fn psi_trends_share_one_scale() {
    let (rows, text) = drift_rows(Colours::None);
    let max = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    assert!(max > 0.0, "{text}");
    for (psi, _, trend) in rows.iter().filter(|r| r.0 < max / 10.0) {
        assert!(
            trend.chars().all(|c| matches!(c, '▁' | '▂')),
            "PSI {psi} drawn as {trend} next to a PSI of {max}:\n{text}"
        );
    }
    assert!(text.contains("one scale"), "{text}");
}
