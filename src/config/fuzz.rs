//! Property tests: any text in config.toml, policy.toml or a theme file is read or refused with
//! located errors, never a panic.

use std::path::Path;

use proptest::prelude::*;

/// Text that looks like TOML often enough to get past the syntax and into the checks.
pub fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "\\[[a-z_.\"-]{0,16}\\]",
        "[a-z_]{1,16} = [0-9.eE+-]{1,12}",
        "[a-z_]{1,16} = \"[^\"\n]{0,20}\"",
        "[a-z_]{1,16} = (true|false)",
        "\"[a-z0-9 -]{0,12}\" = \"[A-Za-z]{0,4}\"",
        "\\[(global|overview|rollouts|drift|audit|nope)\\]",
        "\"((ctrl|alt|shift)-)*([a-z0-9:/?]|f[0-9]{1,3}|enter|esc|tab|space|pageup)( [a-z]){0,3}\" = \"[a-z_]{1,14}\"",
        ".{0,30}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_config_text_is_read_or_refused_with_a_location(text in tomlish()) {
        let path = Path::new("x.toml");
        if let Err(errors) = super::settings::parse(&text, path) {
            prop_assert!(!errors.is_empty());
        }
        if let Err(errors) = super::policy::parse(&text, path) {
            prop_assert!(errors.iter().all(|e| e.file == "x.toml"));
        }
        let mut errors = Vec::new();
        super::theme::parse_file(&text, path, &mut errors);
    }
}
