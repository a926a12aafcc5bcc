//! The one place where stored records are encoded and decoded.
//!
//! Every record a store writes (history events, queue messages, instance records) is
//! `[format byte][bincode 2 body]`. The format byte names the codec and schema version, so a
//! later change of format is a version bump that old records still decode under, not a
//! migration. bincode is not self-describing, so stored types avoid `flatten`, untagged
//! enums and `skip_serializing_if`; user payloads inside records are plain JSON strings.
//!
//! Decoding is bounded: a corrupt length prefix cannot make the decoder allocate more than
//! [`MAX_RECORD_BYTES`].

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format byte written in front of every record: bincode 2, standard config, schema 1.
pub const FORMAT_V1: u8 = 1;

/// The largest record the decoder accepts (and so the most it will ever allocate for one).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_RECORD_BYTES>,
>;

fn config() -> Config {
    bincode::config::standard().with_limit::<MAX_RECORD_BYTES>()
}

/// Why a record could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The record is empty (not even a format byte).
    #[error("empty record")]
    Empty,
    /// The format byte is not one this build knows.
    #[error("unknown record format {0} (this build reads format {FORMAT_V1})")]
    UnknownFormat(u8),
    /// The body does not decode as the expected type (truncated, corrupt, or another type).
    #[error("malformed record: {0}")]
    Malformed(String),
    /// The body decoded but bytes were left over.
    #[error("malformed record: {0} trailing bytes")]
    TrailingBytes(usize),
    /// The value could not be encoded.
    #[error("cannot encode record: {0}")]
    Encode(String),
}

/// Encodes a record: the format byte followed by the bincode body.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![FORMAT_V1];
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes a record written by [`encode`]; never panics and never allocates more than
/// [`MAX_RECORD_BYTES`], whatever the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if format != FORMAT_V1 {
        return Err(CodecError::UnknownFormat(format));
    }
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(body, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != body.len() {
        return Err(CodecError::TrailingBytes(body.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventKind};

    fn sample() -> Event {
        Event {
            event_id: 7,
            timestamp_ms: 1_700_000_000_000,
            kind: EventKind::ActivityScheduled {
                name: "Greet".into(),
                input: "\"world\"".into(),
            },
        }
    }

    #[test]
    fn codec_round_trips_an_event() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(bytes[0], FORMAT_V1);
        let back: Event = decode(&bytes).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn codec_rejects_bad_bytes_without_panicking() {
        assert_eq!(decode::<Event>(&[]), Err(CodecError::Empty));
        assert_eq!(
            decode::<Event>(&[9, 1, 2]),
            Err(CodecError::UnknownFormat(9))
        );
        let bytes = encode(&sample()).unwrap();
        for cut in 1..bytes.len() {
            assert!(
                decode::<Event>(&bytes[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode::<Event>(&longer), Err(CodecError::TrailingBytes(1)));
    }

    #[test]
    fn codec_bounds_allocation_on_huge_length_prefix() {
        // Event 1 at time 1, ActivityScheduled (variant 1) whose name claims 4 TiB.
        let mut bytes = vec![FORMAT_V1, 1, 1, 1, 0xfd];
        bytes.extend_from_slice(&(1u64 << 42).to_le_bytes());
        assert!(matches!(
            decode::<Event>(&bytes),
            Err(CodecError::Malformed(_))
        ));
    }
}
