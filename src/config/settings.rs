//! `config.toml`: which theme and keymap, backends, refresh and safety settings.

use std::path::Path;

use serde::Deserialize;

use super::errors::ConfigError;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Theme name: an embedded one or a file in `themes/`.
    pub theme: String,
    /// Keymap base: `default` or `vim`; `keymap.toml` merges over it.
    pub keymap: String,
    /// Refuse every mutation.
    pub readonly: bool,
    /// Seconds between refreshes of live data.
    pub refresh_seconds: u64,
    /// Seconds before a backend call is given up.
    pub timeout_seconds: u64,
    pub kubernetes: KubeSettings,
    pub mlflow: MlflowSettings,
    pub prometheus: PrometheusSettings,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeSettings {
    pub context: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlflowSettings {
    pub tracking_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusSettings {
    pub url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            keymap: "default".into(),
            readonly: false,
            refresh_seconds: 5,
            timeout_seconds: 10,
            kubernetes: KubeSettings::default(),
            mlflow: MlflowSettings::default(),
            prometheus: PrometheusSettings::default(),
        }
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Settings, Vec<ConfigError>> {
    let s: Settings =
        toml::from_str(text).map_err(|e| vec![ConfigError::from_toml(path, text, &e)])?;
    let mut errors = Vec::new();
    let locate = |key: &str| text.find(key).unwrap_or(0);
    if s.refresh_seconds == 0 || s.refresh_seconds > 3600 {
        errors.push(ConfigError::at(
            path,
            text,
            locate("refresh_seconds"),
            &s.refresh_seconds.to_string(),
            "refresh_seconds must be between 1 and 3600",
        ));
    }
    if s.timeout_seconds == 0 || s.timeout_seconds > 600 {
        errors.push(ConfigError::at(
            path,
            text,
            locate("timeout_seconds"),
            &s.timeout_seconds.to_string(),
            "timeout_seconds must be between 1 and 600",
        ));
    }
    for (key, url) in [
        ("tracking_uri", &s.mlflow.tracking_uri),
        ("url", &s.prometheus.url),
    ] {
        if let Some(u) = url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            errors.push(ConfigError::at(
                path,
                text,
                text.find(u.as_str()).unwrap_or_else(|| locate(key)),
                u,
                format!("{key} must start with http:// or https://"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_located() {
        let text = "theme = \"light\"\n\nrefesh_seconds = 3\n";
        let errs = parse(text, Path::new("config.toml")).expect_err("unknown key");
        assert_eq!(errs[0].line, 3, "{}", errs[0]);
        assert!(
            errs[0].to_string().contains("refesh_seconds"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn bad_values_are_all_reported() {
        let text = "refresh_seconds = 0\n[prometheus]\nurl = \"localhost:9090\"\n";
        let errs = parse(text, Path::new("c.toml")).expect_err("invalid");
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[1].line, 3);
        assert_eq!(errs[1].value, "localhost:9090");
    }
}
