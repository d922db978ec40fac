//! The ECB daily reference rates document (`eurofxref-daily.xml`), read strictly.
//!
//! ```xml
//! <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
//!   <gesmes:subject>Reference rates</gesmes:subject>
//!   <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
//!   <Cube><Cube time="2026-11-27"><Cube currency="USD" rate="1.0842"/>…</Cube></Cube>
//! </gesmes:Envelope>
//! ```
//!
//! Every rate is one euro in the named currency. What makes the whole document unusable — XML
//! that is not well-formed, another root element, no or several dated `Cube`s, a date that is
//! not `YYYY-MM-DD` or lies in the future, a currency listed twice, no usable rate at all — is a
//! [`DocumentError`]: nothing of it is used. What makes one entry unusable is skipped and
//! reported, the other entries stand: a code our [`Currency`] type does not know
//! (`unknown`), and a malformed code, EUR itself, or a rate that is not a positive decimal
//! within [`Rate`]'s limits (`invalid`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;
use shopcore_domain::money::{Currency, MoneyError, Rate};

/// The currency every ECB rate is quoted against.
pub const ECB_BASE: Currency = Currency::EUR;

/// A document that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("no rates: the document lists no usable rate")]
    NoRates,
}

impl DocumentError {
    /// The reason label of metrics and reports.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::NoRates => "no_rates",
        }
    }
}

/// An entry left out of an otherwise usable document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedEntry {
    /// The code as the document has it (at most 16 characters of it).
    pub currency: String,
    pub reason: String,
}

/// A usable daily document: its date and the rates of one euro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatesDocument {
    pub date: NaiveDate,
    /// In document order.
    pub rates: Vec<(Currency, Rate)>,
    /// Well-formed codes our currency table does not have.
    pub unknown: Vec<SkippedEntry>,
    /// Malformed codes, EUR itself, unusable rates.
    pub invalid: Vec<SkippedEntry>,
}

/// Where the reader is in the `Cube` nesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Envelope,
    /// The outer `<Cube>`.
    Cubes,
    /// `<Cube time="…">`.
    Day,
    /// `<Cube currency="…" rate="…"/>`.
    Rate,
    /// Anything else inside the envelope (subject, sender): not read.
    Other,
}

/// Parses a daily document; `today` bounds its date (a day ahead is allowed: the ECB's date is
/// Central European).
pub fn parse(xml: &str, today: NaiveDate) -> Result<RatesDocument, DocumentError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root_seen = false;
    let mut cubes = 0;
    let mut date: Option<NaiveDate> = None;
    let mut entries: Vec<(String, String)> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                let element = open(
                    &start,
                    &stack,
                    root_seen,
                    &mut cubes,
                    &mut date,
                    &mut entries,
                )?;
                root_seen = true;
                stack.push(element);
            }
            Event::Empty(start) => {
                open(
                    &start,
                    &stack,
                    root_seen,
                    &mut cubes,
                    &mut date,
                    &mut entries,
                )?;
                root_seen = true;
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(text) => {
                let in_cubes = matches!(
                    stack.last(),
                    Some(Element::Cubes | Element::Day | Element::Rate)
                );
                let visible = text.iter().any(|b| !b.is_ascii_whitespace());
                if visible && (stack.is_empty() || in_cubes) {
                    return Err(malformed("text where only elements belong".into()));
                }
            }
            Event::CData(_) if !matches!(stack.last(), None | Some(Element::Other)) => {
                return Err(malformed(
                    "character data where only elements belong".into(),
                ));
            }
            Event::DocType(_) => return Err(malformed("a document type declaration".into())),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends inside an element".into()));
    }
    if !root_seen {
        return Err(malformed("no root element".into()));
    }
    let date = date.ok_or_else(|| malformed("no <Cube time=\"YYYY-MM-DD\">".into()))?;
    if date > today + chrono::Days::new(1) {
        return Err(malformed(format!("the date {date} lies in the future")));
    }
    let mut document = RatesDocument {
        date,
        rates: Vec::new(),
        unknown: Vec::new(),
        invalid: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for (code, rate) in entries {
        if !seen.insert(code.clone()) {
            return Err(malformed(format!("{} is listed twice", cut(&code))));
        }
        let skipped = |reason: String| SkippedEntry {
            currency: cut(&code),
            reason,
        };
        let currency = match Currency::parse(&code) {
            Ok(currency) => currency,
            Err(MoneyError::UnsupportedCurrency(_)) => {
                document
                    .unknown
                    .push(skipped("not a currency Shopcore supports".into()));
                continue;
            }
            Err(_) => {
                document
                    .invalid
                    .push(skipped("not an ISO 4217 code in upper case".into()));
                continue;
            }
        };
        if currency == ECB_BASE {
            document
                .invalid
                .push(skipped("a rate of the base currency itself".into()));
            continue;
        }
        match Rate::parse(&rate) {
            Ok(rate) => document.rates.push((currency, rate)),
            Err(error) => document.invalid.push(skipped(error.to_string())),
        }
    }
    if document.rates.is_empty() {
        return Err(DocumentError::NoRates);
    }
    Ok(document)
}

fn malformed(reason: String) -> DocumentError {
    DocumentError::Malformed(reason)
}

fn cut(text: &str) -> String {
    text.chars().take(16).collect()
}

/// Checks one opening element against its place and records what it carries.
fn open(
    start: &BytesStart<'_>,
    stack: &[Element],
    root_seen: bool,
    cubes: &mut u32,
    date: &mut Option<NaiveDate>,
    entries: &mut Vec<(String, String)>,
) -> Result<Element, DocumentError> {
    let name = start.local_name();
    let is_cube = name.as_ref() == b"Cube";
    let Some(parent) = stack.last() else {
        if root_seen {
            return Err(malformed("more than one root element".into()));
        }
        if name.as_ref() != b"Envelope" {
            return Err(malformed(format!(
                "the root element is <{}>, not <gesmes:Envelope>",
                cut(&String::from_utf8_lossy(start.name().as_ref()))
            )));
        }
        return Ok(Element::Envelope);
    };
    match (parent, is_cube) {
        (Element::Envelope, true) => {
            *cubes += 1;
            if *cubes > 1 {
                return Err(malformed("more than one outer <Cube>".into()));
            }
            Ok(Element::Cubes)
        }
        (Element::Envelope | Element::Other, false) => Ok(Element::Other),
        (Element::Other, true) => Err(malformed("a <Cube> outside the rates".into())),
        (Element::Cubes, true) => {
            if date.is_some() {
                return Err(malformed(
                    "more than one dated <Cube>: not a daily document".into(),
                ));
            }
            let time = attribute(start, "time")?
                .ok_or_else(|| malformed("a <Cube> without its time".into()))?;
            let parsed = NaiveDate::parse_from_str(&time, "%Y-%m-%d")
                .ok()
                .filter(|_| time.len() == 10)
                .ok_or_else(|| malformed(format!("time {:?} is not YYYY-MM-DD", cut(&time))))?;
            *date = Some(parsed);
            Ok(Element::Day)
        }
        (Element::Day, true) => {
            let currency = attribute(start, "currency")?
                .ok_or_else(|| malformed("a rate <Cube> without its currency".into()))?;
            let rate = attribute(start, "rate")?.ok_or_else(|| {
                malformed(format!("the <Cube> of {} has no rate", cut(&currency)))
            })?;
            entries.push((currency, rate));
            Ok(Element::Rate)
        }
        (Element::Cubes | Element::Day | Element::Rate, _) => Err(malformed(format!(
            "unexpected <{}> in the rates",
            cut(&String::from_utf8_lossy(start.name().as_ref()))
        ))),
    }
}

/// The unescaped value of attribute `name`, trimmed of nothing (a rate with spaces is invalid).
fn attribute(start: &BytesStart<'_>, name: &str) -> Result<Option<String>, DocumentError> {
    let attribute = start
        .try_get_attribute(name)
        .map_err(|e| malformed(format!("attribute {name}: {e}")))?;
    attribute
        .map(|a| {
            a.unescape_value()
                .map(|v| v.into_owned())
                .map_err(|e| malformed(format!("attribute {name}: {e}")))
        })
        .transpose()
}

/// A daily document in the ECB's format: `rates` as (code, rate) text, written as given.
pub fn ecb_daily_xml(date: NaiveDate, rates: &[(&str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" \
         xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">\n\
         \t<gesmes:subject>Reference rates</gesmes:subject>\n\
         \t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n\
         \t<Cube>\n",
    );
    xml.push_str(&format!("\t\t<Cube time='{}'>\n", date.format("%Y-%m-%d")));
    for (currency, rate) in rates {
        xml.push_str(&format!(
            "\t\t\t<Cube currency='{currency}' rate='{rate}'/>\n"
        ));
    }
    xml.push_str("\t\t</Cube>\n\t</Cube>\n</gesmes:Envelope>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).expect("date")
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_committed_default_document_parses() {
        let xml = include_str!("../../../infra/fx/eurofxref-daily.xml");
        let document = parse(xml, today()).expect("parses");
        assert_eq!(document.date, date("2026-11-27"));
        assert_eq!(document.rates.len(), 29);
        assert_eq!(
            document.rates[0],
            (Currency::USD, Rate::parse("1.0842").expect("rate"))
        );
        // BGN is not one of ours.
        assert_eq!(document.unknown.len(), 1);
        assert_eq!(document.unknown[0].currency, "BGN");
        assert!(document.invalid.is_empty());
    }

    #[test]
    fn entries_that_cannot_be_used_are_skipped_and_reported() {
        let xml = ecb_daily_xml(
            date("2026-11-27"),
            &[
                ("USD", "1.0842"),
                ("XYZ", "1.5"),
                ("usd", "1.0"),
                ("EUR", "1"),
                ("GBP", "-0.83"),
                ("JPY", "0"),
                ("CHF", "1e2"),
                ("SEK", " 11.49"),
                ("NOK", "1.0000000000001"),
                ("KWD", "0.3335"),
            ],
        );
        let document = parse(&xml, today()).expect("usable");
        let codes: Vec<Currency> = document.rates.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, vec![Currency::USD, Currency::KWD]);
        assert_eq!(document.unknown.len(), 1);
        let invalid: Vec<&str> = document
            .invalid
            .iter()
            .map(|s| s.currency.as_str())
            .collect();
        assert_eq!(
            invalid,
            vec!["usd", "EUR", "GBP", "JPY", "CHF", "SEK", "NOK"]
        );
    }

    #[test]
    fn unusable_documents_are_refused_whole() {
        let day = date("2026-11-27");
        let malformed = [
            String::new(),
            "not xml at all".to_owned(),
            "<html><body>Service unavailable</body></html>".to_owned(),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace("</gesmes:Envelope>", ""),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace("</Cube>\n\t</Cube>", "</Cube>"),
            ecb_daily_xml(day, &[("USD", "1.0842"), ("USD", "1.0843")]),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace("2026-11-27", "27.11.2026"),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace("2026-11-27", "2026-11-7"),
            ecb_daily_xml(date("2026-12-05"), &[("USD", "1.0842")]),
            ecb_daily_xml(day, &[("USD", "1.0842")])
                .replace("<Cube time='2026-11-27'>", "<Cube>"),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace(
                "\t\t</Cube>\n\t</Cube>",
                "\t\t</Cube>\n\t\t<Cube time='2026-11-26'><Cube currency='USD' rate='1.08'/></Cube>\n\t</Cube>",
            ),
            ecb_daily_xml(day, &[("USD", "1.0842")]).replace("rate='1.0842'", ""),
            ecb_daily_xml(day, &[("USD", "1.0842")])
                .replace("<Cube currency='USD' rate='1.0842'/>", "<Cube currency='USD' rate='1.0842'>1</Cube>"),
            format!("{}<extra/>", ecb_daily_xml(day, &[("USD", "1.0842")])),
        ];
        for xml in &malformed {
            let error = parse(xml, today()).expect_err(xml);
            assert_eq!(error.reason(), "malformed", "{xml}: {error}");
        }
        for xml in [
            ecb_daily_xml(day, &[]),
            ecb_daily_xml(day, &[("XYZ", "1.5"), ("USD", "abc")]),
        ] {
            assert_eq!(parse(&xml, today()), Err(DocumentError::NoRates), "{xml}");
        }
        // A day ahead is allowed (the ECB's date is Central European).
        assert!(parse(
            &ecb_daily_xml(date("2026-12-01"), &[("USD", "1.0842")]),
            today()
        )
        .is_ok());
    }
}
