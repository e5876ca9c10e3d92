//! The request Pyroscope's `/ingest` HTTP API takes for one profile: `POST URL/ingest` with
//! `name=SERVICE{k=v,…}`, `from` and `until` (Unix seconds) and `format=pprof` in the query, and
//! a `multipart/form-data` body whose file parts `profile` (the gzipped pprof) and
//! `sample_type_config` (JSON: each sample type's units, aggregation and display name) the
//! server reads. Pyroscope takes both parts from the form's files, so each carries a filename.
//!
//! Everything here is pure: the flags' validation, names, labels, the URL, the body and the
//! retry schedule.

use std::time::Duration;

use reqwest::Url;

use crate::{
    render::{SampleUnit, SAMPLE_TYPES},
    report::TargetInfo,
};

/// `--pyroscope-url` and `--label` input that cannot be used, with the fix.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--pyroscope-url {url}: {reason}; give the server's base URL, e.g. --pyroscope-url http://pyroscope:4040")]
    Url { url: String, reason: String },
    #[error("--label {arg}: not KEY=VALUE; e.g. --label node=n1")]
    LabelSyntax { arg: String },
    #[error("--label {arg}: `{key}` is not a label name: use letters, digits and `_`, not starting with a digit, e.g. --label node=n1")]
    LabelName { arg: String, key: String },
    #[error("--label {arg}: `{key}` is set by clprof itself ({why}); pick another name")]
    LabelReserved {
        arg: String,
        key: String,
        why: &'static str,
    },
    #[error("--label {arg}: the value must be non-empty, without `,` `{{` `}}` `=` `\"`, control characters or spaces at either end; e.g. --label node=n1")]
    LabelValue { arg: String },
    #[error("--label {key} is given twice: keep one")]
    LabelTwice { key: String },
    #[error("--label only applies to pushed profiles: add --pyroscope-url URL, or drop --label")]
    LabelWithoutUrl,
    #[error("--push-timeout must be more than 0, e.g. --push-timeout 10s")]
    ZeroTimeout,
}

/// Where profiles go: the `/ingest` URL, and the basic-auth credentials the user info of
/// `--pyroscope-url` gave (kept out of the URL, hence out of logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ingest: Url,
    pub basic_auth: Option<(String, Option<String>)>,
}

/// `--pyroscope-url`: an http(s) base URL (a path prefix is kept, `/ingest` appended unless the
/// path already ends in it); `user:password@` becomes basic auth.
pub fn parse_url(text: &str) -> Result<Endpoint, ConfigError> {
    let bad = |reason: &str| ConfigError::Url {
        url: redacted(text),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("drop the query and fragment: clprof writes the query"));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let basic_auth = (!url.username().is_empty() || url.password().is_some())
        .then(|| (decode(url.username()), url.password().map(decode)));
    // Infallible for http(s) URLs with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let path = url.path().trim_end_matches('/').to_owned();
    if !path.ends_with("/ingest") {
        url.set_path(&format!("{path}/ingest"));
    }
    Ok(Endpoint {
        ingest: url,
        basic_auth,
    })
}

/// `text` with any password replaced, for error messages.
fn redacted(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

/// Labels clprof sets on every profile itself, and why.
const RESERVED: [(&str, &str); 6] = [
    ("pid", "the target's pid"),
    ("container_id", "the target's container"),
    ("container_runtime", "the target's container"),
    ("pod_uid", "the target's pod"),
    ("service_name", "the target's executable name"),
    ("app_name", "the target's executable name"),
];

/// A Prometheus-style label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `value` survives Pyroscope's `name{k=v,…}` syntax as it is (it has no escapes).
fn is_label_value(value: &str) -> bool {
    !value.is_empty()
        && value.trim() == value
        && !value
            .chars()
            .any(|c| matches!(c, ',' | '{' | '}' | '=' | '"') || c.is_control())
}

/// The `--label KEY=VALUE` flags, checked: names Prometheus-style, not clprof's own, once each;
/// values that need no escaping.
pub fn parse_labels(args: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ConfigError::LabelSyntax { arg: arg.clone() });
        };
        let arg = arg.clone();
        let key = key.to_owned();
        if key.starts_with("__") {
            return Err(ConfigError::LabelReserved {
                arg,
                key,
                why: "names starting with `__` are the server's",
            });
        }
        if let Some((_, why)) = RESERVED.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::LabelReserved { arg, key, why });
        }
        if !is_label_name(&key) {
            return Err(ConfigError::LabelName { arg, key });
        }
        if !is_label_value(value) {
            return Err(ConfigError::LabelValue { arg });
        }
        if labels.iter().any(|(k, _)| *k == key) {
            return Err(ConfigError::LabelTwice { key });
        }
        labels.push((key, value.to_owned()));
    }
    Ok(labels)
}

/// The service a target's profiles are filed under: its executable's file name (`/usr/bin/foo`
/// -> `foo`), with characters Pyroscope does not take in an application name (anything but
/// letters, digits, `_`, `.`, `-`) written as `_`.
pub fn service_name(exe: &str) -> String {
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    let file = exe.rsplit('/').next().unwrap_or(exe);
    let name: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name
    }
}

/// A label value from the target's own data, made safe for `name{…}`.
fn clean_value(value: &str) -> String {
    let cleaned: String = value
        .trim()
        .chars()
        .map(|c| {
            if matches!(c, ',' | '{' | '}' | '=' | '"') || c.is_control() || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

/// A target's labels: `pid`, its container's (`container_id`, `container_runtime`, `pod_uid`,
/// as in its pprof samples) where known, then the `--label` ones.
pub fn target_labels(target: &TargetInfo, statics: &[(String, String)]) -> Vec<(String, String)> {
    let mut labels = vec![("pid".to_owned(), target.pid.to_string())];
    if let Some(c) = &target.container {
        labels.push(("container_id".to_owned(), clean_value(&c.id)));
        labels.push((
            "container_runtime".to_owned(),
            c.runtime.as_str().to_owned(),
        ));
        if let Some(uid) = &c.pod_uid {
            labels.push(("pod_uid".to_owned(), clean_value(uid)));
        }
    }
    labels.extend(statics.iter().cloned());
    labels
}

/// Pyroscope's application name with labels: `service{k=v,k2=v2}`.
pub fn app_name(service: &str, labels: &[(String, String)]) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{service}{{{}}}", pairs.join(","))
}

/// The `/ingest` URL of one profile: `name`, `from`, `until` (Unix seconds), `format=pprof`
/// and `spyName=clprof`, form-URL-encoded.
pub fn ingest_url(ingest: &Url, name: &str, from: i64, until: i64) -> Url {
    let mut url = ingest.clone();
    url.query_pairs_mut()
        .append_pair("name", name)
        .append_pair("from", &from.to_string())
        .append_pair("until", &until.to_string())
        .append_pair("format", "pprof")
        .append_pair("spyName", "clprof");
    url
}

/// What Pyroscope's `sample_type_config` says of each clprof sample type: Pyroscope's units are
/// `samples` (shown as CPU time), `objects` (plain counts) and `bytes`; clprof's values are
/// plain counts of events, so `objects`. They add up over time (`sum`), and are not scaled by a
/// sampling period (`sampled: false`). The display name is the suffix Pyroscope appends to the
/// application name: `cacheline_transfers`, ….
pub fn sample_type_config() -> String {
    let config: serde_json::Map<String, serde_json::Value> = SAMPLE_TYPES
        .iter()
        .map(|t| {
            // Pyroscope draws `lock_nanoseconds` (its unit for Go's mutex delay) as time.
            let units = match t.unit {
                SampleUnit::Count => "objects",
                SampleUnit::Nanoseconds => "lock_nanoseconds",
            };
            (
                t.name.to_owned(),
                serde_json::json!({
                    "units": units,
                    "aggregation": "sum",
                    "display-name": format!("cacheline_{}", t.name),
                    "sampled": false,
                }),
            )
        })
        .collect();
    serde_json::Value::Object(config).to_string()
}

/// One file part of a `multipart/form-data` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
}

/// The two parts Pyroscope reads for a pprof: `profile` and `sample_type_config`.
pub fn ingest_parts<'a>(pprof: &'a [u8], config: &'a str) -> [Part<'a>; 2] {
    [
        Part {
            name: "profile",
            filename: "profile.pprof",
            content_type: "application/octet-stream",
            data: pprof,
        },
        Part {
            name: "sample_type_config",
            filename: "sample_type_config.json",
            content_type: "application/json",
            data: config.as_bytes(),
        },
    ]
}

/// A `multipart/form-data` body of `parts`: (its Content-Type, the bytes). The boundary is one
/// that no part contains.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let contains = |data: &[u8], needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    let boundary = (0u32..)
        .map(|n| format!("clprof-pyroscope-{n:08x}"))
        .find(|b| !parts.iter().any(|p| contains(p.data, b.as_bytes())))
        .expect("some boundary is free");
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
                 Content-Type: {}\r\n\r\n",
                p.name, p.filename, p.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Tries per profile: the first and three retries.
pub const TRIES: u32 = 4;

/// The wait before retry `retry` (0 for the first): 0.5 s, doubling, at most [`MAX_BACKOFF`].
pub fn backoff(retry: u32) -> Duration {
    const BASE: Duration = Duration::from_millis(500);
    BASE.saturating_mul(1u32 << retry.min(16)).min(MAX_BACKOFF)
}

/// The longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The longest a server's `Retry-After` may hold a profile back.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The wait before retry `retry`: the backoff, or longer when the server asked (`Retry-After`),
/// up to [`MAX_RETRY_AFTER`].
pub fn retry_delay(retry: u32, retry_after: Option<Duration>) -> Duration {
    let asked = retry_after.map_or(Duration::ZERO, |d| d.min(MAX_RETRY_AFTER));
    backoff(retry).max(asked)
}

/// What to do after an HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// 429 and 5xx (and anything else unexpected): try again later.
    Retry,
    /// 4xx but 429: the request itself is wrong; sending it again cannot help.
    Rejected,
}

pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 => Verdict::Retry,
        400..=499 => Verdict::Rejected,
        _ => Verdict::Retry,
    }
}

/// A `Retry-After` header in seconds (the HTTP-date form is not used by Pyroscope).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
