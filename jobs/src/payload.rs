//! The JSON payload carried by a job.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A job's payload: the JSON text exactly as the producer wrote it.
///
/// The text is kept as written instead of as a parsed `serde_json::Value`, so a
/// handler's payload type decodes straight from the original bytes: integers
/// wider than 64 bits reach a `u128` or `i128` field intact, and each job is
/// parsed once, by the handler that reads it.
///
/// A payload read back from a queue may be text that is not valid JSON (another
/// producer wrote it); it then fails to [`decode`](Payload::decode) and the
/// worker dead-letters the job with the decode error.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Payload(Arc<str>);

impl Payload {
    /// Serializes `value` into a payload.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(|json| Self(json.into()))
    }

    /// Checks that `json` is one valid JSON value and wraps it unchanged.
    pub fn from_json(json: impl Into<String>) -> Result<Self, serde_json::Error> {
        let json = json.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&json)?;
        Ok(Self(json.into()))
    }

    /// Wraps text as stored by a queue, without checking that it is JSON.
    pub fn from_stored(text: impl Into<Arc<str>>) -> Self {
        Self(text.into())
    }

    /// The payload's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decodes the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// Parses the payload into a `serde_json::Value`.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Self(value.to_string().into())
    }
}

impl Default for Payload {
    /// An empty JSON object, the payload svc-infra assumes when a job has none.
    fn default() -> Self {
        Self(Arc::from("{}"))
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_rejects_invalid_text() {
        assert!(Payload::from_json("{\"a\": ").is_err());
        assert!(Payload::from_json("{} {}").is_err());
    }

    #[test]
    fn wide_integer_decodes_intact() {
        let payload = Payload::from_json("{\"n\": 340282366920938463463374607431768211455}").unwrap();
        #[derive(serde::Deserialize)]
        struct Wide {
            n: u128,
        }
        assert_eq!(payload.decode::<Wide>().unwrap().n, u128::MAX);
    }
}
