//! Calendar arithmetic for IMAP dates: INTERNALDATE output and the day comparisons of SEARCH.
//!
//! Owns: conversion between Unix seconds and civil dates (proleptic Gregorian, no leap seconds)
//! and the `date-time` format of RFC 3501 §9: `"dd-Mon-yyyy hh:mm:ss +zzzz"`.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// The day, if it exists in the calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Day> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Day { year, month, day })
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The day on which the instant `secs` falls, seen from the zone `offset_minutes` east of UTC.
    pub fn of_instant(secs: i64, offset_minutes: i32) -> Day {
        let local = secs + i64::from(offset_minutes) * 60;
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        Day { year, month, day }
    }

    /// The three-letter English month name used by IMAP dates.
    pub fn month_name(self) -> &'static str {
        MONTHS[(self.month as usize).saturating_sub(1).min(11)]
    }

    /// Parses the English month abbreviation (case-insensitive) to 1..=12.
    pub fn month_from_name(name: &str) -> Option<u32> {
        MONTHS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(name))
            .map(|i| i as u32 + 1)
    }
}

/// RFC 3501 §9 `date-time`, quoted: `"01-Jan-2024 10:00:00 +0100"`.
pub fn format_internal_date(secs: i64, offset_minutes: i32) -> String {
    let local = secs + i64::from(offset_minutes) * 60;
    let day = Day::of_instant(local, 0);
    let in_day = local.rem_euclid(86_400);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}\"",
        day.day,
        day.month_name(),
        day.year,
        in_day / 3600,
        (in_day / 60) % 60,
        in_day % 60,
        off / 60,
        off % 60
    )
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's well-known algorithm, written out here).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(Day::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Day::of_instant(0, 0), Day::new(1970, 1, 1).unwrap());
        // 2024-02-29 12:00:00 UTC = 1709208000
        assert_eq!(
            Day::of_instant(1_709_208_000, 0),
            Day::new(2024, 2, 29).unwrap()
        );
        assert_eq!(Day::of_instant(-1, 0), Day::new(1969, 12, 31).unwrap());
    }

    #[test]
    fn round_trip_over_many_days() {
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn zone_moves_the_day() {
        // 2024-01-01 23:30 UTC is already 2 January in +0100.
        let t = 1_704_151_800;
        assert_eq!(Day::of_instant(t, 0), Day::new(2024, 1, 1).unwrap());
        assert_eq!(Day::of_instant(t, 60), Day::new(2024, 1, 2).unwrap());
    }

    #[test]
    fn internal_date_format() {
        assert_eq!(
            format_internal_date(1_704_151_800, 60),
            "\"02-Jan-2024 00:30:00 +0100\""
        );
        assert_eq!(
            format_internal_date(1_704_151_800, -330),
            "\"01-Jan-2024 18:00:00 -0530\""
        );
    }

    #[test]
    fn invalid_days_are_refused() {
        assert!(Day::new(2023, 2, 29).is_none());
        assert!(Day::new(2024, 2, 29).is_some());
        assert!(Day::new(2024, 13, 1).is_none());
        assert!(Day::new(2024, 4, 31).is_none());
        assert_eq!(Day::month_from_name("dec"), Some(12));
        assert_eq!(Day::month_from_name("Dez"), None);
    }
}
