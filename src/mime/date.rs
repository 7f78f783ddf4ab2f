//! The `Date:` header (RFC 5322 §3.3) as a point in time and as a calendar day in its own zone.
//!
//! Owns only the date grammar, leniently (obsolete zones, two-digit years, missing seconds,
//! comments). SENTON/SENTBEFORE/SENTSINCE compare the day in the header's own zone
//! (RFC 3501 §6.4.4), so the day is returned beside the UTC seconds.

/// Parsed `Date:`: Unix seconds (UTC) and the (year, month, day) in the header's zone.
pub(crate) fn parse(value: &[u8]) -> Option<(i64, (i32, u32, u32))> {
    let text: String = strip_comments(value);
    let mut words = text
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .peekable();
    // Optional day of week.
    if words
        .peek()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
    {
        words.next();
    }
    let day: u32 = words.next()?.parse().ok()?;
    let month = month(words.next()?)?;
    let year_word = words.next()?;
    let mut year: i32 = year_word.parse().ok()?;
    // RFC 5322 §4.3: two-digit years 00-49 are 20xx, 50-99 19xx; three digits add 1900.
    if year_word.len() <= 2 {
        year += if year < 50 { 2000 } else { 1900 };
    } else if year_word.len() == 3 {
        year += 1900;
    }
    let time = words.next()?;
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = match hms.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    let zone = words.next().map_or(Some(0), zone)?;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 || !(1..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + s - zone;
    Some((secs, (year, month, day)))
}

fn strip_comments(value: &[u8]) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for &b in value {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 && b.is_ascii() => out.push(b as char),
            _ => {}
        }
    }
    out
}

fn month(w: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = w.get(..3)?.to_ascii_lowercase();
    NAMES.iter().position(|n| *n == w).map(|i| i as u32 + 1)
}

/// The zone's offset east of UTC in seconds (RFC 5322 §3.3 and §4.3 obsolete names; military
/// zones are treated as +0000 as §4.3 advises).
fn zone(w: &str) -> Option<i64> {
    let b = w.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let hh: i64 = w[1..3].parse().ok()?;
        let mm: i64 = w[3..5].parse().ok()?;
        let off = hh * 3600 + mm * 60;
        return Some(if b[0] == b'-' { -off } else { off });
    }
    let h = match w.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        _ => 0,
    };
    Some(h * 3600)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5322_date() {
        assert_eq!(
            parse(b"Mon, 1 Jan 2024 10:00:00 +0100"),
            Some((1_704_099_600, (2024, 1, 1)))
        );
    }

    #[test]
    fn day_is_in_the_header_zone() {
        let (secs, day) = parse(b"31 Dec 2023 23:30:00 -0800").unwrap();
        assert_eq!(day, (2023, 12, 31));
        assert_eq!(secs, 1_704_094_200); // 2024-01-01 07:30 UTC
    }

    #[test]
    fn obsolete_forms() {
        assert_eq!(
            parse(b"Fri, 5 Jan 99 12:00 GMT (comment)").map(|d| d.1),
            Some((1999, 1, 5))
        );
        assert_eq!(
            parse(b"5 Jan 2024 12:00:00 EST").map(|d| d.0),
            Some(1_704_474_000)
        );
        assert_eq!(
            parse(b"5 Jan 2024 12:00:00").map(|d| d.0),
            Some(1_704_456_000)
        );
    }

    #[test]
    fn garbage_is_none() {
        for s in [
            &b""[..],
            b"yesterday",
            b"32 Jan 2024 10:00",
            b"1 Foo 2024 10:00",
            b"1 Jan 2024 99:00",
            b"\xff\xfe",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }
}
