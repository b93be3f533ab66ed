//! The job hash: the fields of a [`Job`] as Redis stores them.
//!
//! The fields `id`, `name`, `payload`, `available_at`, `attempts`,
//! `max_attempts`, `backoff_seconds`, `last_error` and `visible_at` are the
//! ones svc-infra reads and writes, in its encodings: decimal integers and an
//! ISO 8601 `available_at`. The other fields are ours, and svc-infra ignores
//! them. Reading is tolerant, because a Python producer may have written the
//! hash: a missing field takes svc-infra's default, and an unparsable one
//! takes the default with a warning. Text fields with bytes that are not
//! UTF-8 are read with U+FFFD in their place, except the payload, which keeps
//! a mark that makes it fail to decode (see [`Payload::from_stored_bytes`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tracing::warn;

use crate::backoff::{Backoff, BackoffStrategy};
use crate::job::{DEFAULT_MAX_ATTEMPTS, Job, NewJob};
use crate::payload::Payload;

/// The field names of the job hash that Rust reads or writes.
mod field {
    pub(super) const NAME: &str = "name";
    pub(super) const PAYLOAD: &str = "payload";
    pub(super) const AVAILABLE_AT: &str = "available_at";
    pub(super) const ATTEMPTS: &str = "attempts";
    pub(super) const MAX_ATTEMPTS: &str = "max_attempts";
    pub(super) const BACKOFF_SECONDS: &str = "backoff_seconds";
    pub(super) const LAST_ERROR: &str = "last_error";
    pub(super) const BACKOFF_MS: &str = "backoff_ms";
    pub(super) const BACKOFF_STRATEGY: &str = "backoff_strategy";
    pub(super) const MAX_BACKOFF_MS: &str = "max_backoff_ms";
    pub(super) const JITTER: &str = "jitter";
    pub(super) const VISIBILITY_TIMEOUT_MS: &str = "visibility_timeout_ms";
    pub(super) const DIED_AT: &str = "died_at";
    pub(super) const UNIQUE_KEY: &str = "unique_key";
}

const LINEAR: &str = "linear";
const EXPONENTIAL: &str = "exponential";

/// The fields of a job hash, with field names decoded as UTF-8 and values
/// kept as the stored bytes.
#[derive(Debug, Default)]
pub(super) struct Fields(HashMap<String, Vec<u8>>);

impl Fields {
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        self.0.insert(lossy(name), value);
    }

    /// Returns a field as text, with U+FFFD in place of bytes that are not UTF-8.
    fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        self.0.get(name).map(|value| String::from_utf8_lossy(value))
    }

    fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(Vec::as_slice)
    }
}

/// Formats a time as svc-infra writes it: `2026-12-04T19:44:54.372998+00:00`,
/// always with six fraction digits and the `+00:00` offset, which every
/// Python version from 3.11 on parses.
pub(super) fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Parses an ISO 8601 time with or without a fraction, with an offset, `Z` or
/// no offset at all (read as UTC), and with `T` or a space between date and time.
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .into_iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// Lists the fields to store for a new job, in svc-infra's order. `id` is
/// left out because the enqueue script sets it once it has drawn the id.
pub(super) fn encode_new(job: &NewJob, available_at: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let backoff = job.backoff;
    let mut fields = vec![
        (field::NAME, job.name.clone()),
        (field::PAYLOAD, job.payload.as_str().to_owned()),
        (field::AVAILABLE_AT, format_time(available_at)),
        (field::ATTEMPTS, "0".to_owned()),
        (field::MAX_ATTEMPTS, job.max_attempts.to_string()),
        // Whole seconds, because svc-infra parses this field with int().
        (field::BACKOFF_SECONDS, backoff.base().as_secs().to_string()),
        (field::BACKOFF_MS, millis(backoff.base()).to_string()),
    ];
    match backoff.strategy() {
        BackoffStrategy::Linear => fields.push((field::BACKOFF_STRATEGY, LINEAR.to_owned())),
        BackoffStrategy::Exponential { max_delay, jitter } => {
            fields.push((field::BACKOFF_STRATEGY, EXPONENTIAL.to_owned()));
            fields.push((field::MAX_BACKOFF_MS, millis(max_delay).to_string()));
            fields.push((field::JITTER, u8::from(jitter).to_string()));
        }
    }
    if let Some(timeout) = job.visibility_timeout {
        fields.push((field::VISIBILITY_TIMEOUT_MS, millis(timeout).to_string()));
    }
    if let Some(key) = &job.unique_key {
        fields.push((field::UNIQUE_KEY, key.clone()));
    }
    fields
}

/// Converts a duration to whole milliseconds, saturating. A duration under
/// 1 ms but not zero becomes 1 ms, so a short timeout does not become zero.
pub(super) fn millis(duration: Duration) -> u64 {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 && !duration.is_zero() { 1 } else { millis }
}

/// Decodes the raw field/value pairs Redis returns, in either RESP2 (a flat
/// array) or RESP3 (a map) form.
pub(super) fn fields_from_pairs(pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Fields {
    let mut fields = Fields::default();
    for (name, value) in pairs {
        fields.insert(name, value);
    }
    fields
}

/// Decodes a flat `[field, value, field, value, ...]` array. A later copy of
/// a field replaces an earlier one.
pub(super) fn fields_from_flat(flat: Vec<Vec<u8>>) -> Fields {
    let mut values = flat.into_iter();
    let mut fields = Fields::default();
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        fields.insert(name, value);
    }
    fields
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Builds the job stored under `id` from its hash fields.
pub(super) fn decode(id: &str, fields: &Fields) -> Job {
    let reader = Reader { id, fields };
    let available_at = reader.available_at();
    Job {
        id: id.to_owned(),
        name: fields.text(field::NAME).map(Cow::into_owned).unwrap_or_default(),
        payload: fields
            .bytes(field::PAYLOAD)
            .map(|bytes| Payload::from_stored_bytes(bytes.to_vec()))
            .unwrap_or_default(),
        available_at,
        attempts: reader.number(field::ATTEMPTS).unwrap_or(0),
        max_attempts: reader.number(field::MAX_ATTEMPTS).unwrap_or(DEFAULT_MAX_ATTEMPTS),
        backoff: reader.backoff(),
        last_error: fields.text(field::LAST_ERROR).map(Cow::into_owned),
        visibility_timeout: reader
            .number::<u64>(field::VISIBILITY_TIMEOUT_MS)
            .filter(|&millis| millis > 0)
            .map(Duration::from_millis),
        unique_key: fields
            .text(field::UNIQUE_KEY)
            .filter(|key| !key.is_empty())
            .map(Cow::into_owned),
    }
}

/// When the job was dead-lettered, if our worker recorded it.
pub(super) fn died_at(id: &str, fields: &Fields) -> Option<DateTime<Utc>> {
    Reader { id, fields }.time(field::DIED_AT)
}

struct Reader<'a> {
    id: &'a str,
    fields: &'a Fields,
}

impl Reader<'_> {
    /// Parses a numeric field. Returns `None` when it is missing or empty, and
    /// also when it does not parse, which is logged.
    fn number<T: FromStr>(&self, name: &'static str) -> Option<T> {
        let text = self.fields.text(name)?;
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = text.parse().ok();
        if parsed.is_none() {
            self.warn_invalid(name, text);
        }
        parsed
    }

    fn time(&self, name: &'static str) -> Option<DateTime<Utc>> {
        let text = self.fields.text(name)?;
        let parsed = parse_time(&text);
        if parsed.is_none() {
            self.warn_invalid(name, &text);
        }
        parsed
    }

    fn available_at(&self) -> DateTime<Utc> {
        self.time(field::AVAILABLE_AT).unwrap_or_else(Utc::now)
    }

    fn backoff(&self) -> Backoff {
        let base = self
            .number(field::BACKOFF_MS)
            .map(Duration::from_millis)
            .or_else(|| self.number(field::BACKOFF_SECONDS).map(Duration::from_secs))
            .unwrap_or(Backoff::DEFAULT_BASE);
        let strategy = self.fields.text(field::BACKOFF_STRATEGY);
        match strategy.as_deref() {
            None | Some(LINEAR) => Backoff::linear(base),
            Some(EXPONENTIAL) => {
                let max_delay = self
                    .number(field::MAX_BACKOFF_MS)
                    .map(Duration::from_millis)
                    .unwrap_or(Backoff::DEFAULT_MAX_DELAY);
                let jitter = self.fields.text(field::JITTER).as_deref().map(str::trim) == Some("1");
                Backoff::exponential(base, max_delay, jitter)
            }
            Some(other) => {
                self.warn_invalid(field::BACKOFF_STRATEGY, other);
                Backoff::linear(base)
            }
        }
    }

    fn warn_invalid(&self, name: &'static str, value: &str) {
        warn!(
            job.id = self.id,
            field = name,
            value,
            "job hash has an invalid field; using the default"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn stored(job: &NewJob, available_at: DateTime<Utc>) -> Fields {
        fields_from_pairs(
            encode_new(job, available_at)
                .into_iter()
                .map(|(name, value)| (name.as_bytes().to_vec(), value.into_bytes())),
        )
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        fields_from_pairs(
            pairs
                .iter()
                .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec())),
        )
    }

    fn text(fields: &Fields, name: &str) -> String {
        fields.text(name).expect("the field is stored").into_owned()
    }

    #[test]
    fn time_has_six_digits_and_offset() {
        let time = Utc.with_ymd_and_hms(2026, 12, 4, 19, 45, 56).unwrap();
        assert_eq!(format_time(time), "2026-12-04T19:45:56.000000+00:00");
    }

    #[test]
    fn new_job_round_trips() {
        let available_at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(123_456);
        let backoff = Backoff::exponential(Duration::from_millis(1500), Duration::from_secs(90), true);
        let new = NewJob::new("send_email", Payload::from_json(r#"{"to":"a"}"#).unwrap())
            .max_attempts(7)
            .backoff(backoff)
            .visibility_timeout(Duration::from_secs(45))
            .unique_key("order-7");

        let job = decode("9", &stored(&new, available_at));

        assert_eq!(job.id, "9");
        assert_eq!(job.name, "send_email");
        assert_eq!(job.payload.as_str(), r#"{"to":"a"}"#);
        assert_eq!(job.available_at, available_at);
        assert_eq!(job.attempts, 0);
        assert_eq!(job.max_attempts, 7);
        assert_eq!(job.backoff, backoff);
        assert_eq!(job.last_error, None);
        assert_eq!(job.visibility_timeout, Some(Duration::from_secs(45)));
        assert_eq!(job.unique_key.as_deref(), Some("order-7"));
    }

    #[test]
    fn linear_backoff_round_trips() {
        let new = NewJob::new("a", Payload::default()).backoff(Backoff::linear(Duration::from_millis(500)));
        let fields = stored(&new, Utc::now());
        assert_eq!(text(&fields, field::BACKOFF_SECONDS), "0");
        assert_eq!(
            decode("1", &fields).backoff,
            Backoff::linear(Duration::from_millis(500))
        );
    }

    #[test]
    fn integer_fields_are_plain_decimals() {
        let new = NewJob::new("a", Payload::default());
        let fields = stored(&new, Utc::now());
        assert_eq!(text(&fields, field::ATTEMPTS), "0");
        assert_eq!(text(&fields, field::MAX_ATTEMPTS), "5");
        assert_eq!(text(&fields, field::BACKOFF_SECONDS), "60");
        assert!(fields.bytes(field::VISIBILITY_TIMEOUT_MS).is_none());
    }

    #[test]
    fn python_hash_without_fraction_decodes() {
        let fields = fields(&[
            ("id", "3"),
            ("name", "send_email"),
            ("payload", "{\"to\": \"a@example.com\"}"),
            ("available_at", "2026-12-04T19:45:56+00:00"),
            ("attempts", "1"),
            ("max_attempts", "5"),
            ("backoff_seconds", "60"),
            ("last_error", "boom: first failure"),
            ("visible_at", "1796413555"),
        ]);

        let job = decode("3", &fields);

        let expected = Utc.with_ymd_and_hms(2026, 12, 4, 19, 45, 56).unwrap();
        assert_eq!(job.available_at, expected);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.backoff, Backoff::linear(Duration::from_secs(60)));
        assert_eq!(job.last_error.as_deref(), Some("boom: first failure"));
        assert_eq!(job.visibility_timeout, None);
    }

    #[test]
    fn missing_fields_take_defaults() {
        let before = Utc::now();
        let job = decode("12", &fields(&[("name", "ping")]));
        assert_eq!(job.name, "ping");
        assert_eq!(job.payload.as_str(), "{}");
        assert_eq!(job.attempts, 0);
        assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(job.backoff, Backoff::default());
        assert!(job.available_at >= before);

        assert_eq!(decode("13", &Fields::default()).name, "");
    }

    #[test]
    fn time_variants_parse() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 4, 19, 45, 56).unwrap();
        let milli = whole + chrono::Duration::milliseconds(250);
        let cases = [
            ("2026-12-04T19:45:56Z", whole),
            ("2026-12-04T19:45:56+00:00", whole),
            ("2026-12-04T19:45:56", whole),
            ("2026-12-04 19:45:56", whole),
            ("2026-12-04T21:45:56+02:00", whole),
            ("2026-12-04T19:45:56.250Z", milli),
            ("2026-12-04T19:45:56.250000", milli),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text), Some(expected), "{text}");
        }
        assert_eq!(parse_time("1796413555"), None);
    }

    #[test]
    fn unparsable_values_fall_back() {
        let before = Utc::now();
        let job = decode(
            "4",
            &fields(&[
                ("available_at", "yesterday"),
                ("attempts", "abc"),
                ("max_attempts", ""),
                ("backoff_seconds", "0.5"),
                ("backoff_strategy", "fibonacci"),
                ("payload", "{not json"),
            ]),
        );
        assert!(job.available_at >= before);
        assert_eq!(job.attempts, 0);
        assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(job.backoff, Backoff::default());
        assert_eq!(job.payload.as_str(), "{not json");
    }

    #[test]
    fn invalid_utf8_payload_kept_but_undecodable() {
        let flat = vec![
            b"name".to_vec(),
            b"a".to_vec(),
            b"payload".to_vec(),
            vec![b'"', 0xff, b'x', b'"'],
            b"last_error".to_vec(),
            vec![b'e', 0xfe],
        ];

        let job = decode("5", &fields_from_flat(flat));

        assert_eq!(job.name, "a");
        assert_eq!(job.payload.as_str(), "\"\u{fffd}x\"");
        assert!(!job.payload.is_utf8());
        let error = job.payload.decode::<String>().unwrap_err().to_string();
        assert!(error.contains("not valid UTF-8"), "{error}");
        assert_eq!(job.last_error.as_deref(), Some("e\u{fffd}"));
    }

    #[test]
    fn later_copy_of_field_wins() {
        let flat = ["name", "old", "attempts", "1", "name", "new"]
            .map(|item| item.as_bytes().to_vec())
            .to_vec();

        let job = decode("6", &fields_from_flat(flat));

        assert_eq!(job.name, "new");
        assert_eq!(job.attempts, 1);
    }

    #[test]
    fn died_at_reads_back() {
        let time = Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap();
        let fields = fields(&[("died_at", &format_time(time))]);
        assert_eq!(died_at("1", &fields), Some(time));
        assert_eq!(died_at("1", &Fields::default()), None);
    }
}
