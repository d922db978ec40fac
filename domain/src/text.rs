//! Text a person typed, made comparable: two values nobody can tell apart must be the same
//! value. Every free-text field of the domain goes through [`clean`]: Unicode NFC (so "é" typed
//! as one character or as "e" and a combining accent is the same name), surrounding whitespace
//! trimmed, and no characters that do not show — controls, format characters (zero-width
//! spaces, bidirectional overrides, soft hyphens, tags), line and paragraph separators, the
//! Hangul fillers and the braille blank. The zero-width (non-)joiners are kept: Persian, Indic
//! and emoji spellings need them. Unassigned and private-use code points are kept too: a
//! renderer shows them (as a box, or its own glyph), so they cannot make two values look alike
//! any more than any other rare character — and the OpenAPI document, whose patterns are built
//! from [`is_invisible`], can state exactly this set.

use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextIssue {
    /// Contains a character that does not show (see the module documentation).
    Invisible,
}

impl TextIssue {
    /// The reason, for an error message naming the field.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Invisible => {
                "must not contain control, format or invisible characters (such as zero-width spaces)"
            }
        }
    }
}

/// Whether a character cannot be seen (and so must not tell two values apart).
pub fn is_invisible(c: char) -> bool {
    if matches!(c, '\u{200C}' | '\u{200D}') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
    )
}

/// The text in NFC, trimmed, or why it is refused.
pub fn clean(raw: &str) -> Result<String, TextIssue> {
    // Printable ASCII (and the ASCII whitespace a trim removes at the ends) is its own NFC and
    // shows: the common case skips the normalisation.
    let ascii = raw.trim_ascii();
    if ascii.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Ok(ascii.to_owned());
    }
    let text: String = raw.nfc().collect();
    let text = text.trim();
    if text.chars().any(is_invisible) {
        return Err(TextIssue::Invisible);
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_spellings_are_one_value() {
        assert_eq!(clean("Ame\u{301}lie"), clean("Amélie"));
        assert_eq!(clean("  Zoë\t"), Ok("Zoë".to_owned()));
    }

    #[test]
    fn characters_that_do_not_show_are_refused() {
        for text in [
            "Ada\u{200B}",  // zero-width space
            "A\u{00AD}da",  // soft hyphen
            "Ada\u{202E}",  // right-to-left override
            "A\u{0007}da",  // bell
            "Ada\u{FEFF}",  // byte order mark
            "A\u{2028}da",  // line separator
            "\u{3164}",     // Hangul filler
            "Ada\u{E0041}", // tag letter A
        ] {
            assert_eq!(clean(text), Err(TextIssue::Invisible), "{text:?}");
        }
    }

    #[test]
    fn ascii_takes_the_short_way_to_the_same_answer() {
        for (raw, want) in [
            ("  SKU-1 ", Ok("SKU-1")),
            ("\tEU\n", Ok("EU")),
            ("a b", Ok("a b")),
            ("", Ok("")),
            ("a\tb", Err(TextIssue::Invisible)),
            ("a\u{7f}", Err(TextIssue::Invisible)),
            ("\u{0}", Err(TextIssue::Invisible)),
        ] {
            assert_eq!(clean(raw), want.map(str::to_owned), "{raw:?}");
        }
    }

    #[test]
    fn characters_a_renderer_shows_as_a_box_are_kept() {
        assert!(clean("Ada\u{E000}").is_ok(), "private use");
        assert!(clean("Ada\u{0378}").is_ok(), "unassigned");
    }

    #[test]
    fn joiners_that_scripts_and_emoji_need_are_kept() {
        assert!(clean("می\u{200C}خواهم").is_ok());
        assert!(clean("👩\u{200D}💻").is_ok());
        assert!(clean("O'Brien-Smith Jr.").is_ok());
    }
}
