//! Themes: named styles for every part of the screen. Embedded themes live in `themes/*.toml`;
//! a user file `themes/NAME.toml` merges over the embedded theme of that name (or the one named by
//! `inherits`) per style and per field. Colours are reduced to what the terminal can show.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use super::errors::ConfigError;

pub const EMBEDDED: [(&str, &str); 5] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    /// No colour at all (`NO_COLOR`, `TERM=dumb`): modifiers only.
    Monochrome,
}

impl ColorDepth {
    /// From the environment: `NO_COLOR`, `COLORTERM`, `TERM`.
    pub fn detect() -> Self {
        Self::from_env(
            std::env::var("NO_COLOR").ok().as_deref(),
            std::env::var("COLORTERM").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        )
    }

    pub fn from_env(no_color: Option<&str>, colorterm: Option<&str>, term: Option<&str>) -> Self {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return Self::Monochrome;
        }
        if matches!(colorterm, Some("truecolor" | "24bit")) {
            return Self::TrueColor;
        }
        match term {
            Some("dumb") => Self::Monochrome,
            Some(t) if t.contains("direct") => Self::TrueColor,
            Some(t) if t.contains("256") => Self::Ansi256,
            _ => Self::Ansi16,
        }
    }
}

macro_rules! slots {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Every styled part of the screen.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $($(#[$doc])* pub $name: Style,)*
        }

        pub const SLOTS: &[&str] = &[$(stringify!($name)),*];

        impl Theme {
            fn slot_mut(&mut self, name: &str) -> Option<&mut Style> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }

            fn all_mut(&mut self) -> Vec<&mut Style> {
                vec![$(&mut self.$name),*]
            }

            fn blank(name: &str) -> Self {
                Self { name: name.to_string(), $($name: Style::default(),)* }
            }
        }
    };
}

slots!(
    /// Ordinary text.
    text,
    muted,
    accent,
    title,
    border,
    border_focus,
    header,
    selection,
    ok,
    warn,
    err,
    info,
    canary,
    stable,
    bar,
    bar_empty,
    status_bar,
    status_key,
    key,
    breadcrumb,
    /// A view whose backend is down.
    greyed,
    overlay,
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    fg: Option<Spanned<String>>,
    bg: Option<Spanned<String>>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    inherits: Option<Spanned<String>>,
    #[serde(default)]
    styles: BTreeMap<Spanned<String>, RawStyle>,
}

/// Parse a colour: `#rrggbb`, a name (`red`, `lightblue`, `darkgray`, `reset`) or an index 0–255.
pub fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix('#') {
        if hex.len() == 6
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(v) = u32::from_str_radix(hex, 16)
        {
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return Err("a hex colour has six hex digits, like \"#7aa2f7\"".into());
    }
    if let Ok(i) = t.parse::<u16>() {
        return u8::try_from(i)
            .map(Color::Indexed)
            .map_err(|_| "a colour index is 0–255".to_string());
    }
    let named =
        match t.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "darkgray" | "darkgrey" => Color::DarkGray,
            "lightred" => Color::LightRed,
            "lightgreen" => Color::LightGreen,
            "lightyellow" => Color::LightYellow,
            "lightblue" => Color::LightBlue,
            "lightmagenta" => Color::LightMagenta,
            "lightcyan" => Color::LightCyan,
            "white" => Color::White,
            _ => return Err(
                "a colour is \"#rrggbb\", a name like \"red\" or \"darkgray\", or an index 0–255"
                    .into(),
            ),
        };
    Ok(named)
}

fn apply(base: &mut Style, raw: &RawStyle, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    for (field, value) in [("fg", &raw.fg), ("bg", &raw.bg)] {
        let Some(v) = value else { continue };
        match parse_color(v.get_ref()) {
            Ok(c) => {
                if field == "fg" {
                    base.fg = Some(c);
                } else {
                    base.bg = Some(c);
                }
            }
            Err(why) => errors.push(ConfigError::at(
                path,
                text,
                v.span().start,
                v.get_ref(),
                format!("invalid colour for {field} ({why})"),
            )),
        }
    }
    for (flag, m) in [
        (raw.bold, Modifier::BOLD),
        (raw.dim, Modifier::DIM),
        (raw.italic, Modifier::ITALIC),
        (raw.underlined, Modifier::UNDERLINED),
        (raw.reversed, Modifier::REVERSED),
    ] {
        match flag {
            Some(true) => *base = base.add_modifier(m),
            Some(false) => {
                base.add_modifier.remove(m);
            }
            None => {}
        }
    }
}

/// Parse one theme file over `base`; returns the `inherits` name if any.
fn merge(
    text: &str,
    path: &Path,
    base: &mut Theme,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let raw: RawTheme = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            errors.push(ConfigError::from_toml(path, text, &e));
            return None;
        }
    };
    for (name, style) in &raw.styles {
        match base.slot_mut(name.get_ref()) {
            Some(slot) => apply(slot, style, path, text, errors),
            None => errors.push(ConfigError::at(
                path,
                text,
                name.span().start,
                name.get_ref(),
                format!("unknown style (known: {})", SLOTS.join(", ")),
            )),
        }
    }
    raw.inherits.map(toml::Spanned::into_inner)
}

/// Validate one theme file on its own (for `mlops config check`).
pub fn parse_file(text: &str, path: &Path, errors: &mut Vec<ConfigError>) {
    let mut t = Theme::blank("check");
    merge(text, path, &mut t, errors);
}

fn embedded(name: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The theme `name`: embedded, or a user file merged over its base; defaults on any error.
pub fn load(dir: &Path, name: &str, depth: ColorDepth, errors: &mut Vec<ConfigError>) -> Theme {
    let user_path: PathBuf = dir.join("themes").join(format!("{name}.toml"));
    let unreadable = errors.len();
    let user_text = super::read_optional(&user_path, errors);
    let base_name = match (&user_text, embedded(name)) {
        (_, Some(_)) => name.to_string(),
        (Some(text), None) => match toml::from_str::<RawTheme>(text)
            .ok()
            .and_then(|r| r.inherits)
        {
            Some(base) if embedded(base.get_ref()).is_none() => {
                errors.push(ConfigError::at(
                    &user_path,
                    text,
                    base.span().start,
                    base.get_ref(),
                    format!(
                        "inherits names no embedded theme (known: {}); using \"dark\"",
                        EMBEDDED.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
                    ),
                ));
                "dark".into()
            }
            Some(base) => base.into_inner(),
            None => "dark".into(),
        },
        // The file is there but could not be read: that error says so.
        (None, None) if errors.len() > unreadable => "dark".into(),
        (None, None) => {
            errors.push(ConfigError::about_file(
                &user_path,
                name,
                format!(
                    "theme {:?} is neither embedded ({}) nor a file here; using \"dark\"",
                    mlops_core::text::truncate(name, 60),
                    EMBEDDED.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
                ),
            ));
            "dark".into()
        }
    };
    let mut theme = Theme::blank(name);
    let base_text = embedded(&base_name).unwrap_or(EMBEDDED[0].1);
    let base_path = PathBuf::from(format!("<embedded>/themes/{base_name}.toml"));
    merge(base_text, &base_path, &mut theme, errors);
    if let Some(text) = user_text {
        let before = errors.len();
        let mut candidate = theme.clone();
        merge(&text, &user_path, &mut candidate, errors);
        // A user theme with a syntax error is ignored whole; bad single values were skipped.
        let syntax_error = errors[before..].iter().any(|e| {
            !e.message.starts_with("invalid colour") && !e.message.starts_with("unknown style")
        });
        if !syntax_error {
            theme = candidate;
        }
    }
    theme.reduce(depth);
    theme
}

impl Theme {
    /// An embedded theme at full colour (tests, snapshots).
    pub fn embedded(name: &str) -> Self {
        let mut errors = Vec::new();
        load(
            Path::new("/nonexistent"),
            name,
            ColorDepth::TrueColor,
            &mut errors,
        )
    }

    /// Reduce every colour to what `depth` can show. In 16 colours the semantic styles take
    /// fixed ANSI hues (ok green, warn yellow, err red, info cyan, canary magenta, stable blue,
    /// the selection black on cyan), so a failure never reads as grey whatever the palette.
    pub fn reduce(&mut self, depth: ColorDepth) {
        for s in self.all_mut() {
            s.fg = s.fg.and_then(|c| reduce_color(c, depth));
            s.bg = s.bg.and_then(|c| reduce_color(c, depth));
        }
        if depth == ColorDepth::Ansi16 {
            for (style, colour) in [
                (&mut self.ok, Color::Green),
                (&mut self.warn, Color::Yellow),
                (&mut self.err, Color::LightRed),
                (&mut self.info, Color::Cyan),
                (&mut self.canary, Color::LightMagenta),
                (&mut self.stable, Color::LightBlue),
                (&mut self.bar, Color::Green),
            ] {
                style.fg = Some(colour);
            }
            self.selection.fg = Some(Color::Black);
            self.selection.bg = Some(Color::Cyan);
        }
    }
}

fn reduce_color(c: Color, depth: ColorDepth) -> Option<Color> {
    match (depth, c) {
        (ColorDepth::Monochrome, _) => None,
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Some(Color::Indexed(rgb_to_256(r, g, b))),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => Some(rgb_to_16(r, g, b)),
        (ColorDepth::Ansi16, Color::Indexed(i)) if i >= 16 => {
            let (r, g, b) = indexed_rgb(i);
            Some(rgb_to_16(r, g, b))
        }
        // An index under 16 is one of the 16 colours: by its name, as the 16-colour depth
        // speaks of every colour.
        (ColorDepth::Ansi16, Color::Indexed(i)) => Some(ANSI16[usize::from(i)].0),
        (_, c) => Some(c),
    }
}

/// The colours a chart's series take where the theme speaks in the terminal's 16 colours, the
/// most distinct first: the six hues, then their bright versions. Black, white and the greys
/// are left out: they are the background, the text and the axes.
const SERIES_16: [Color; 12] = [
    Color::Green,
    Color::Magenta,
    Color::Yellow,
    Color::Cyan,
    Color::Red,
    Color::Blue,
    Color::LightGreen,
    Color::LightMagenta,
    Color::LightYellow,
    Color::LightCyan,
    Color::LightRed,
    Color::LightBlue,
];

impl Theme {
    /// The colours of a chart's series, no two alike and none the text's colour: in 16 colours
    /// (a theme whose colours are all the terminal's named ones) the 16-colour hues; otherwise
    /// the theme's own colours for accents and states, each once. Empty in a theme without
    /// colours (NO_COLOR): the series' glyphs tell them apart. A chart with more series than
    /// colours repeats them, and its glyphs still differ.
    pub fn series(&self) -> Vec<Style> {
        let slots = [
            &self.accent,
            &self.ok,
            &self.warn,
            &self.err,
            &self.info,
            &self.canary,
            &self.stable,
            &self.title,
            &self.header,
            &self.key,
            &self.breadcrumb,
            &self.bar,
        ];
        let coloured: Vec<Color> = slots.iter().filter_map(|s| s.fg).collect();
        if coloured.is_empty() {
            return Vec::new();
        }
        // Colours that mean something else on the screen: the text, and the greys of the
        // hints, the borders and what is greyed out.
        let taken: Vec<Color> = [
            &self.text,
            &self.muted,
            &self.border,
            &self.bar_empty,
            &self.greyed,
        ]
        .iter()
        .filter_map(|s| s.fg)
        .collect();
        let named = coloured
            .iter()
            .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_)));
        let candidates: Vec<Color> = if named { SERIES_16.to_vec() } else { coloured };
        let mut palette: Vec<Color> = Vec::new();
        for c in candidates {
            if !taken.contains(&c) && !palette.contains(&c) {
                palette.push(c);
            }
        }
        palette.into_iter().map(|c| Style::new().fg(c)).collect()
    }
}

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn nearest_level(v: u8) -> usize {
    (0..6)
        .min_by_key(|i| (i32::from(CUBE[*i]) - i32::from(v)).abs())
        .unwrap_or(0)
}

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> i32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2);
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

/// The xterm 256-colour index nearest to an RGB colour (cube or grey ramp).
pub fn rgb_to_256(r: u8, g: u8, b: u8) -> u8 {
    let (ri, gi, bi) = (nearest_level(r), nearest_level(g), nearest_level(b));
    let cube = (CUBE[ri], CUBE[gi], CUBE[bi]);
    let cube_index = 16 + 36 * ri + 6 * gi + bi;
    let avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let gi_ = ((i32::from(avg) - 8) / 10).clamp(0, 23);
    let grey = (8 + 10 * gi_) as u8;
    if dist((r, g, b), (grey, grey, grey)) < dist((r, g, b), cube) {
        232 + gi_ as u8
    } else {
        cube_index as u8
    }
}

fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        16..=231 => {
            let i = i - 16;
            (
                CUBE[(i / 36) as usize],
                CUBE[((i / 6) % 6) as usize],
                CUBE[(i % 6) as usize],
            )
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
        _ => ANSI16[i as usize].1,
    }
}

const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The basic colour of the same hue (greys by lightness): pastels keep their meaning instead of
/// falling to the grey that is nearest by RGB distance.
pub fn rgb_to_16(r: u8, g: u8, b: u8) -> Color {
    let (rf, gf, bf) = (
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    let max = rf.max(gf).max(bf);
    let min = rf.min(gf).min(bf);
    let light = f64::midpoint(max, min);
    let chroma = max - min;
    if chroma < 0.15 {
        return match light {
            l if l < 0.2 => Color::Black,
            l if l < 0.55 => Color::DarkGray,
            l if l < 0.85 => Color::Gray,
            _ => Color::White,
        };
    }
    let hue = if (max - rf).abs() < f64::EPSILON {
        60.0 * ((gf - bf) / chroma).rem_euclid(6.0)
    } else if (max - gf).abs() < f64::EPSILON {
        60.0 * ((bf - rf) / chroma + 2.0)
    } else {
        60.0 * ((rf - gf) / chroma + 4.0)
    };
    let bright = light > 0.55;
    let pick = |dim: Color, lit: Color| if bright { lit } else { dim };
    match hue {
        h if !(15.0..345.0).contains(&h) => pick(Color::Red, Color::LightRed),
        h if h < 70.0 => pick(Color::Yellow, Color::LightYellow),
        h if h < 165.0 => pick(Color::Green, Color::LightGreen),
        h if h < 205.0 => pick(Color::Cyan, Color::LightCyan),
        h if h < 260.0 => pick(Color::Blue, Color::LightBlue),
        _ => pick(Color::Magenta, Color::LightMagenta),
    }
}

/// The relative luminance (WCAG 2) of a colour as xterm shows it.
pub fn luminance(c: Color) -> Option<f64> {
    let (r, g, b) = match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => indexed_rgb(i),
        other => ANSI16
            .iter()
            .find(|(n, _)| *n == other)
            .map(|(_, rgb)| *rgb)?,
    };
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    Some(0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b))
}

/// The WCAG contrast ratio of two colours (1 to 21).
pub fn contrast(a: Color, b: Color) -> Option<f64> {
    let (x, y) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if x > y { (x, y) } else { (y, x) };
    Some((hi + 0.05) / (lo + 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_theme_parses_cleanly() {
        for (name, text) in EMBEDDED {
            let mut errors = Vec::new();
            parse_file(text, Path::new(name), &mut errors);
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }

    #[test]
    fn colours_parse_or_explain() {
        assert_eq!(parse_color("#ff0080"), Ok(Color::Rgb(255, 0, 128)));
        assert_eq!(parse_color("dark-gray"), Ok(Color::DarkGray));
        assert_eq!(parse_color("42"), Ok(Color::Indexed(42)));
        assert!(parse_color("#ff00").is_err());
        assert!(parse_color("blurple").expect_err("bad").contains("#rrggbb"));
        assert!(parse_color("300").is_err());
        // `from_str_radix` takes a sign: "#+12345" was accepted.
        assert!(parse_color("#+12345").is_err());
        assert!(parse_color("#-12345").is_err());
    }

    #[test]
    fn a_theme_inheriting_an_unknown_one_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
        std::fs::write(
            dir.path().join("themes/mine.toml"),
            "inherits = \"nope\"\n[styles]\nselection = { bg = \"#ff0000\" }\n",
        )
        .expect("write");
        let mut errors = Vec::new();
        let t = load(dir.path(), "mine", ColorDepth::TrueColor, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].value.as_str()), (1, "nope"));
        assert!(
            errors[0]
                .message
                .contains("inherits names no embedded theme")
        );
        assert_eq!(
            t.selection.bg,
            Some(Color::Rgb(255, 0, 0)),
            "still applied over dark"
        );
    }

    #[test]
    fn depth_fallback() {
        assert_eq!(rgb_to_256(255, 0, 0), 196);
        assert_eq!(rgb_to_256(128, 128, 128), 244);
        assert_eq!(rgb_to_16(250, 10, 10), Color::Red);
        assert_eq!(
            ColorDepth::from_env(Some("1"), Some("truecolor"), None),
            ColorDepth::Monochrome
        );
        assert_eq!(
            ColorDepth::from_env(None, Some("truecolor"), Some("xterm")),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::from_env(None, None, Some("xterm-256color")),
            ColorDepth::Ansi256
        );
        assert_eq!(
            ColorDepth::from_env(None, None, Some("screen")),
            ColorDepth::Ansi16
        );
        let mut t = Theme::embedded("dark");
        t.reduce(ColorDepth::Monochrome);
        assert!(t.text.fg.is_none() && t.selection.bg.is_none());
        let mut t = Theme::embedded("dark");
        t.reduce(ColorDepth::Ansi16);
        assert!(!matches!(
            t.accent.fg,
            Some(Color::Rgb(..) | Color::Indexed(_))
        ));
    }

    /// The review's grey-out: in 16 colours, pass, fail, warnings and drift kept one grey.
    #[test]
    fn semantic_colours_keep_distinct_hues_in_16_colours() {
        assert_eq!(
            rgb_to_16(0xf7, 0x76, 0x8e),
            Color::LightRed,
            "dark theme err"
        );
        assert_eq!(
            rgb_to_16(0x9e, 0xce, 0x6a),
            Color::LightGreen,
            "dark theme ok"
        );
        assert_eq!(
            rgb_to_16(0xe0, 0xaf, 0x68),
            Color::LightYellow,
            "dark theme warn"
        );
        assert_eq!(
            rgb_to_16(0x3b, 0x42, 0x61),
            Color::DarkGray,
            "a dark border stays grey"
        );
        for (name, _) in EMBEDDED.iter().filter(|(n, _)| *n != "monochrome") {
            let mut t = Theme::embedded(name);
            t.reduce(ColorDepth::Ansi16);
            let hues = [
                t.ok.fg,
                t.warn.fg,
                t.err.fg,
                t.info.fg,
                t.canary.fg,
                t.stable.fg,
            ];
            for (i, a) in hues.iter().enumerate() {
                assert!(
                    !matches!(a, None | Some(Color::DarkGray | Color::Gray | Color::Black)),
                    "{name}: a semantic style is grey or missing: {hues:?}"
                );
                for b in &hues[i + 1..] {
                    assert_ne!(a, b, "{name}: two semantic styles share a colour: {hues:?}");
                }
            }
        }
    }

    /// `TERM=screen`: a colour given as an index under 16 is sent as the named colour.
    #[test]
    fn indexed_colours_under_16_take_their_names_in_16_colours() {
        assert_eq!(
            reduce_color(Color::Indexed(9), ColorDepth::Ansi16),
            Some(Color::LightRed)
        );
        assert_eq!(
            reduce_color(Color::Indexed(4), ColorDepth::Ansi16),
            Some(Color::Blue)
        );
        for i in 0..=255 {
            assert!(
                !matches!(
                    reduce_color(Color::Indexed(i), ColorDepth::Ansi16),
                    Some(Color::Indexed(_) | Color::Rgb(..))
                ),
                "index {i}"
            );
        }
        assert_eq!(
            reduce_color(Color::Indexed(9), ColorDepth::Ansi256),
            Some(Color::Indexed(9)),
            "256 colours keep the index"
        );
    }

    /// The walk: in 16 colours the series were 12, 2, 3, 13, 6, 12 (run 1 and run 6 alike, and
    /// 12 the text's colour). Every theme at every depth: no two series alike, none the text's
    /// colour; in 16 colours at least ten of them.
    #[test]
    fn series_colours_are_distinct_and_not_the_text() {
        for (name, _) in EMBEDDED {
            for depth in [
                ColorDepth::TrueColor,
                ColorDepth::Ansi256,
                ColorDepth::Ansi16,
                ColorDepth::Monochrome,
            ] {
                let mut t = Theme::embedded(name);
                t.reduce(depth);
                let series = t.series();
                let fgs: Vec<Option<Color>> = series.iter().map(|s| s.fg).collect();
                for (i, a) in fgs.iter().enumerate() {
                    assert!(a.is_some(), "{name} at {depth:?}: {fgs:?}");
                    assert_ne!(*a, t.text.fg, "{name} at {depth:?}: the text's colour");
                    assert!(!fgs[i + 1..].contains(a), "{name} at {depth:?}: {fgs:?}");
                }
                match depth {
                    // The monochrome theme has no colours but in 16 colours, where the states
                    // take their fixed hues.
                    _ if t.ok.fg.is_none() => assert!(series.is_empty(), "{name}: {fgs:?}"),
                    ColorDepth::Ansi16 => assert!(series.len() >= 10, "{name}: {fgs:?}"),
                    _ => assert!(series.len() >= 4, "{name} at {depth:?}: {fgs:?}"),
                }
            }
        }
    }

    /// The selected row is drawn in the selection style over its cells (their own colours give
    /// way), so its legibility is the selection's contrast: at least 4.5:1 (WCAG AA) in every
    /// shipped theme, at full colour, in 256 and in 16 colours.
    #[test]
    fn the_selection_is_legible_in_every_theme_and_depth() {
        for (name, _) in EMBEDDED {
            for depth in [
                ColorDepth::TrueColor,
                ColorDepth::Ansi256,
                ColorDepth::Ansi16,
            ] {
                let mut t = Theme::embedded(name);
                t.reduce(depth);
                match (t.selection.fg, t.selection.bg) {
                    (Some(fg), Some(bg)) => {
                        let ratio = contrast(fg, bg).expect("known colours");
                        assert!(
                            ratio >= 4.5,
                            "{name} at {depth:?}: selection contrast {ratio:.2}"
                        );
                    }
                    // Without colours the selection is reversed video.
                    _ => assert!(
                        t.selection.add_modifier.contains(Modifier::REVERSED),
                        "{name} at {depth:?}: a selection without colours must be reversed"
                    ),
                }
            }
        }
    }

    #[test]
    fn user_theme_merges_per_field_and_reports_bad_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
        std::fs::write(
            dir.path().join("themes/dark.toml"),
            "[styles]\nselection = { bg = \"#ff0000\" }\naccent = { fg = \"blurple\" }\nbogus = { fg = \"red\" }\n",
        )
        .expect("write");
        let mut errors = Vec::new();
        let t = load(dir.path(), "dark", ColorDepth::TrueColor, &mut errors);
        let base = Theme::embedded("dark");
        assert_eq!(t.selection.bg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(t.selection.fg, base.selection.fg, "other fields kept");
        assert_eq!(t.accent, base.accent, "bad value falls back");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].value.as_str()), (3, "blurple"));
        assert_eq!((errors[1].line, errors[1].value.as_str()), (4, "bogus"));
    }
}
