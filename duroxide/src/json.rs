//! JSON payload encoding for the typed (`_typed`) helpers.
//!
//! Payloads stay strings in history so they are readable and other tools can produce them;
//! a typed value `v` travels as `serde_json::to_string(&v)`. A plain `String` input of the
//! untyped API is *not* JSON-quoted, so mixing the two styles on one activity means the
//! untyped side must read and write JSON itself.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes a value as a JSON payload.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("cannot encode payload as JSON: {e}"))
}

/// Decodes a JSON payload into a value.
pub fn decode<T: DeserializeOwned>(payload: &str) -> Result<T, String> {
    serde_json::from_str(payload).map_err(|e| {
        format!(
            "cannot decode payload as {}: {e}",
            std::any::type_name::<T>()
        )
    })
}
