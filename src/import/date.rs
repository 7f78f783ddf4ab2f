//! Dates for INTERNALDATE: the asctime date of an mbox `From ` line, and civil-date arithmetic.

use crate::index::InternalDate;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The date of an mbox separator line, e.g. `From alice@example.org Mon Jan  1 10:00:00 2024`
/// (asctime format; some writers add a zone, `... 10:00:00 2024 +0100` or
/// `... 10:00:00 +0100 2024`). Without a zone the time is taken as UTC: the writer's local zone
/// is unknown. `None` if no date is found.
pub fn parse_from_line(line: &[u8]) -> Option<InternalDate> {
    let text = std::str::from_utf8(line).ok()?;
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    // tokens[0] is "From", tokens[1] the envelope sender; the date follows.
    (2..tokens.len()).find_map(|i| parse_asctime(&tokens[i..]))
}

/// `Mon DD HH:MM[:SS] [ZONE] YYYY [ZONE]` at the start of `t`.
fn parse_asctime(t: &[&str]) -> Option<InternalDate> {
    let month = MONTHS
        .iter()
        .position(|m| t.first().is_some_and(|s| s.eq_ignore_ascii_case(m)))? as u32
        + 1;
    let day: u32 = t.get(1)?.parse().ok().filter(|d| (1..=31).contains(d))?;
    let mut hms = t.get(2)?.split(':');
    let h: i64 = hms.next()?.parse().ok().filter(|h| (0..24).contains(h))?;
    let m: i64 = hms.next()?.parse().ok().filter(|m| (0..60).contains(m))?;
    let s: i64 = match hms.next() {
        Some(s) => s.parse().ok().filter(|s| (0..=60).contains(s))?,
        None => 0,
    };
    let (year, zone) = match (t.get(3).and_then(|y| parse_year(y)), t.get(3)) {
        (Some(y), _) => (y, t.get(4).and_then(|z| parse_zone(z))),
        (None, Some(z)) => (t.get(4).and_then(|y| parse_year(y))?, parse_zone(z)),
        (None, None) => return None,
    };
    let tz = zone.unwrap_or(0);
    let local = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(InternalDate {
        unix: local - i64::from(tz) * 60,
        tz_minutes: tz,
    })
}

fn parse_year(s: &str) -> Option<i32> {
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `+HHMM` / `-HHMM` → minutes east of UTC.
fn parse_zone(s: &str) -> Option<i16> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i16 = digits.parse().ok()?;
    let minutes = (v / 100) * 60 + v % 100;
    (minutes <= 24 * 60).then_some(sign * minutes)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1–12).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    // Count from 0000-03-01 so that the leap day is the last day of the counted year.
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 9)
    } else {
        (i64::from(year), i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 1, 1), 19_723);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn from_line_asctime() {
        let d = parse_from_line(b"From alice@example.org Mon Jan  1 10:00:00 2024\n").unwrap();
        assert_eq!(d.unix, 1_704_103_200);
        assert_eq!(d.tz_minutes, 0);
        let z = parse_from_line(b"From a@b Mon Jan 1 10:00:00 2024 +0100").unwrap();
        assert_eq!((z.unix, z.tz_minutes), (1_704_103_200 - 3600, 60));
        assert!(parse_from_line(b"From someone with no date").is_none());
    }
}
