//! `policy.toml`: which policy gates apply where. Sections: `[regions]` (node region → ISO
//! country code), `[default]`, `[clusters."CONTEXT"]` and `[namespaces."CONTEXT/NAMESPACE"]`,
//! each more specific section overriding the keys it sets. Checked by `mlops config check`:
//! an unknown key, a region or country code that is not one, or a margin that is not a number is
//! named with file, line and value.

use std::{collections::BTreeMap, path::Path};

use mlops_core::policy::{MetricRule, Policy};
use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// The gates of one section; what it leaves out comes from the less specific sections.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// `KEY=VALUE` the version must carry as a tag.
    pub validation_tag: Option<String>,
    /// The evaluation metric of the version's run, compared with the champion's.
    pub metric: Option<String>,
    pub higher_is_better: Option<bool>,
    /// How much worse than the champion the version may be, in the metric's units.
    pub max_regression: Option<f64>,
    /// The version tag listing the countries its training data must stay in.
    pub residency_tag: Option<String>,
    pub change_ticket: Option<bool>,
}

impl Rules {
    fn over(&mut self, more: &Rules) {
        macro_rules! take {
            ($($f:ident),*) => { $( if more.$f.is_some() { self.$f.clone_from(&more.$f); } )* };
        }
        take!(
            validation_tag,
            metric,
            higher_is_better,
            max_regression,
            residency_tag,
            change_ticket
        );
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub regions: BTreeMap<String, String>,
    #[serde(default)]
    pub default: Rules,
    #[serde(default)]
    pub clusters: BTreeMap<String, Rules>,
    #[serde(default)]
    pub namespaces: BTreeMap<String, Rules>,
}

impl PolicyFile {
    /// The gates for `namespace` on `cluster`.
    pub fn for_target(&self, cluster: &str, namespace: &str) -> Policy {
        let mut r = self.default.clone();
        if let Some(c) = self.clusters.get(cluster) {
            r.over(c);
        }
        if let Some(n) = self.namespaces.get(&format!("{cluster}/{namespace}")) {
            r.over(n);
        }
        Policy {
            validation_tag: r
                .validation_tag
                .as_deref()
                .and_then(|t| t.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string())),
            metric: r.metric.map(|name| MetricRule {
                name,
                higher_is_better: r.higher_is_better.unwrap_or(true),
                max_regression: r.max_regression.unwrap_or(0.0),
            }),
            residency_tag: r.residency_tag,
            regions: self.regions.clone(),
            change_ticket: r.change_ticket.unwrap_or(false),
        }
    }
}

fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 63
        && r.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_country(c: &str) -> bool {
    c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase())
}

/// `policy.toml` as read, every key and value that is checked with its place in the file (the
/// TOML parser's spans): an error is located at its own key or value, never by searching the
/// text for it (which found a region named in an earlier comment, missed keys written with TOML
/// escapes, and took time quadratic in the number of errors).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Located {
    #[serde(default)]
    regions: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    default: LocatedRules,
    #[serde(default)]
    clusters: BTreeMap<Spanned<String>, LocatedRules>,
    #[serde(default)]
    namespaces: BTreeMap<Spanned<String>, LocatedRules>,
}

/// [`Rules`] with the places of the values that are checked.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocatedRules {
    validation_tag: Option<Spanned<String>>,
    metric: Option<String>,
    higher_is_better: Option<bool>,
    max_regression: Option<Spanned<f64>>,
    residency_tag: Option<String>,
    change_ticket: Option<bool>,
}

impl LocatedRules {
    fn rules(&self) -> Rules {
        Rules {
            validation_tag: self.validation_tag.as_ref().map(|t| t.get_ref().clone()),
            metric: self.metric.clone(),
            higher_is_better: self.higher_is_better,
            max_regression: self.max_regression.as_ref().map(|m| *m.get_ref()),
            residency_tag: self.residency_tag.clone(),
            change_ticket: self.change_ticket,
        }
    }

    /// The problems of section `name`: (byte offset, value, message).
    fn problems(&self, name: &str, out: &mut Vec<(usize, String, String)>) {
        if let Some(t) = &self.validation_tag
            && !t
                .get_ref()
                .split_once('=')
                .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
        {
            out.push((
                t.span().start,
                t.get_ref().clone(),
                format!("[{name}] validation_tag must be KEY=VALUE"),
            ));
        }
        if let Some(m) = &self.max_regression
            && !(m.get_ref().is_finite() && *m.get_ref() >= 0.0)
        {
            out.push((
                m.span().start,
                m.get_ref().to_string(),
                format!("[{name}] max_regression must be a number ≥ 0"),
            ));
        }
    }
}

/// Parse and check `policy.toml`; every problem is reported, located at its key or value, in the
/// order of the file. Linear in the file and the number of problems.
pub fn parse(text: &str, path: &Path) -> Result<PolicyFile, Vec<ConfigError>> {
    let located: Located =
        toml::from_str(text).map_err(|e| vec![ConfigError::from_toml(path, text, &e)])?;
    // (byte offset, value, message)
    let mut problems: Vec<(usize, String, String)> = Vec::new();
    for (region, country) in &located.regions {
        if !is_region(region.get_ref()) {
            problems.push((
                region.span().start,
                region.get_ref().clone(),
                "not a region name (lowercase letters, digits and -, as in topology.kubernetes.io/region)".into(),
            ));
        }
        if !is_country(country.get_ref()) {
            problems.push((
                country.span().start,
                country.get_ref().clone(),
                format!(
                    "region {}: not an ISO 3166 country code (two capital letters, e.g. AE)",
                    mlops_core::text::truncate(region.get_ref(), super::errors::SHOWN_VALUE)
                ),
            ));
        }
    }
    located.default.problems("default", &mut problems);
    for (key, r) in &located.clusters {
        r.problems(&format!("clusters.{}", key.get_ref()), &mut problems);
    }
    for (key, r) in &located.namespaces {
        r.problems(&format!("namespaces.{}", key.get_ref()), &mut problems);
        if key.get_ref().split_once('/').is_none() {
            problems.push((
                key.span().start,
                key.get_ref().clone(),
                "a namespace section is named \"CLUSTER/NAMESPACE\"".into(),
            ));
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|(offset, ..)| *offset);
        let offsets: Vec<usize> = problems.iter().map(|(offset, ..)| *offset).collect();
        let places = super::errors::line_cols(text, &offsets);
        return Err(problems
            .into_iter()
            .zip(places)
            .map(|((_, value, message), (line, column))| {
                ConfigError::at_line_col(path, line, column, &value, message)
            })
            .collect());
    }
    let rules = |sections: BTreeMap<Spanned<String>, LocatedRules>| {
        sections
            .into_iter()
            .map(|(k, r)| (k.into_inner(), r.rules()))
            .collect()
    };
    Ok(PolicyFile {
        regions: located
            .regions
            .into_iter()
            .map(|(r, c)| (r.into_inner(), c.into_inner()))
            .collect(),
        default: located.default.rules(),
        clusters: rules(located.clusters),
        namespaces: rules(located.namespaces),
    })
}

/// `policy.toml` in `dir`: none when there is no file (no gates), and its problems.
pub fn load(dir: &Path) -> (Option<PolicyFile>, Vec<ConfigError>) {
    let path = dir.join("policy.toml");
    let mut errors = Vec::new();
    let Some(text) = super::read_optional(&path, &mut errors) else {
        return (None, errors);
    };
    match parse(&text, &path) {
        Ok(p) => (Some(p), errors),
        Err(e) => {
            errors.extend(e);
            (None, errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[regions]
"me-central-1" = "AE"
"eu-west-1" = "IE"

[default]
validation_tag = "validation_status=approved"
metric = "accuracy"
max_regression = 0.01
residency_tag = "data.residency"

[clusters."uae-prod"]
change_ticket = true

[namespaces."uae-prod/sandbox"]
validation_tag = "validation_status=any"
"#;

    #[test]
    fn sections_override_the_default_from_cluster_to_namespace() {
        let p = parse(GOOD, Path::new("policy.toml")).expect("valid");
        let eu = p.for_target("eu-prod", "ml-serving");
        assert!(!eu.change_ticket);
        let uae = p.for_target("uae-prod", "ml-serving");
        assert!(uae.change_ticket);
        assert_eq!(
            uae.validation_tag,
            Some(("validation_status".into(), "approved".into()))
        );
        let sandbox = p.for_target("uae-prod", "sandbox");
        assert_eq!(
            sandbox.validation_tag,
            Some(("validation_status".into(), "any".into()))
        );
        assert_eq!(sandbox.metric.map(|m| m.max_regression), Some(0.01));
    }

    #[test]
    fn bad_keys_regions_countries_and_margins_are_named_with_line_and_value() {
        let text = "[regions]\n\"Me Central\" = \"AE\"\n\"eu-west-1\" = \"Ireland\"\n\n[default]\nmax_regression = -1.0\n";
        let errors = parse(text, Path::new("policy.toml")).expect_err("bad");
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let all = all.join("\n");
        assert!(
            all.contains("policy.toml:2:") && all.contains("\"Me Central\""),
            "{all}"
        );
        assert!(
            all.contains("policy.toml:3:") && all.contains("not an ISO 3166 country code"),
            "{all}"
        );
        assert!(
            all.contains("policy.toml:6:") && all.contains("max_regression must be a number"),
            "{all}"
        );
        let unknown = parse(
            "[default]\nvalidaton_tag = \"a=b\"\n",
            Path::new("policy.toml"),
        )
        .expect_err("unknown key");
        assert!(
            unknown[0].to_string().contains("policy.toml:2:"),
            "{:?}",
            unknown[0]
        );
        assert!(
            unknown[0]
                .to_string()
                .contains("unknown field `validaton_tag`"),
            "{:?}",
            unknown[0]
        );
        let nan = parse(
            "[default]\nmax_regression = \"lots\"\n",
            Path::new("policy.toml"),
        )
        .expect_err("not a number");
        assert!(
            nan[0].to_string().contains("policy.toml:2:"),
            "{:?}",
            nan[0]
        );
    }
}
