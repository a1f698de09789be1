//! Segment counting by Flowroute's rules: an all-ASCII body of up to 160 characters is one segment
//! and longer ASCII bodies are charged per 140 characters; any other character makes the whole text
//! UCS-2 (`message_encoding` 8), charged per 70 UTF-16 code units.

/// How a body is encoded on the air, as Flowroute reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM/ASCII, `message_encoding` 0.
    Ascii,
    /// UCS-2, `message_encoding` 8.
    Ucs2,
}

impl Encoding {
    /// Flowroute's `message_encoding` value.
    pub fn code(self) -> i16 {
        match self {
            Self::Ascii => 0,
            Self::Ucs2 => 8,
        }
    }
}

/// The encoding and segment count of a body; an empty or absent body (an MMS) counts as one.
pub fn count(body: Option<&str>) -> (Encoding, u32) {
    let body = body.unwrap_or("");
    if body.is_ascii() {
        let n = body.len();
        let segments = if n <= 160 { 1 } else { n.div_ceil(140) };
        (Encoding::Ascii, u32::try_from(segments).unwrap_or(u32::MAX))
    } else {
        let units = body.encode_utf16().count();
        (Encoding::Ucs2, u32::try_from(units.div_ceil(70).max(1)).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty("", Encoding::Ascii, 1)]
    #[case::one("Hi", Encoding::Ascii, 1)]
    #[case::full_single(&"a".repeat(160), Encoding::Ascii, 1)]
    #[case::just_over(&"a".repeat(161), Encoding::Ascii, 2)]
    #[case::two_at_140(&"a".repeat(280), Encoding::Ascii, 2)]
    #[case::three(&"a".repeat(281), Encoding::Ascii, 3)]
    #[case::accent("café", Encoding::Ucs2, 1)]
    #[case::ucs2_full(&"é".repeat(70), Encoding::Ucs2, 1)]
    #[case::ucs2_over(&"é".repeat(71), Encoding::Ucs2, 2)]
    #[case::emoji_are_two_units(&"😀".repeat(35), Encoding::Ucs2, 1)]
    #[case::emoji_over(&"😀".repeat(36), Encoding::Ucs2, 2)]
    fn segments(#[case] body: &str, #[case] enc: Encoding, #[case] n: u32) {
        assert_eq!(count(Some(body)), (enc, n));
    }

    #[test]
    fn no_body_is_one_segment() {
        assert_eq!(count(None), (Encoding::Ascii, 1));
    }
}
