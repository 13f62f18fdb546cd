//! Calendar arithmetic on event timestamps (UTC), without a date-time dependency.

/// A UTC date and time split into fields, from milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year (proleptic Gregorian; may be below 1970 for negative timestamps).
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Millisecond, 0-999.
    pub millis: u32,
}

impl UtcTime {
    /// Splits `ms` since the epoch into calendar fields (days-to-civil, H. Hinnant's algorithm).
    pub fn from_millis(ms: i64) -> Self {
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3_600_000) as u32,
            minute: (rem / 60_000 % 60) as u32,
            second: (rem / 1000 % 60) as u32,
            millis: (rem % 1000) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Milliseconds since the epoch of the form [`UtcTime::rfc3339`] writes
    /// (`2025-11-25T00:00:01.000Z`); `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<i64> {
        let b = text.as_bytes();
        if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[23] != b'Z' {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            let part = text.get(from..to)?;
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hh, mm, ss, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        // Days from civil (H. Hinnant), the inverse of `from_millis`.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400_000 + hh * 3_600_000 + mm * 60_000 + ss * 1000 + ms)
    }

    /// RFC 3339 with milliseconds: `2025-11-25T00:00:01.000Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

/// Appends [`UtcTime::rfc3339`] of `millis` (`2025-11-25T00:00:01.000Z`) without allocating
/// (years outside 0-9999 go through the formatter): the 24 bytes are filled on the stack and
/// copied at once.
#[inline]
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, millis: i64) {
    let t = UtcTime::from_millis(millis);
    if !(0..=9999).contains(&t.year) {
        out.extend_from_slice(t.rfc3339().as_bytes());
        return;
    }
    let d = |v: u32| b'0' + (v % 10) as u8;
    let y = t.year as u32;
    let buf: [u8; 24] = [
        d(y / 1000),
        d(y / 100),
        d(y / 10),
        d(y),
        b'-',
        d(t.month / 10),
        d(t.month),
        b'-',
        d(t.day / 10),
        d(t.day),
        b'T',
        d(t.hour / 10),
        d(t.hour),
        b':',
        d(t.minute / 10),
        d(t.minute),
        b':',
        d(t.second / 10),
        d(t.second),
        b'.',
        d(t.millis / 100),
        d(t.millis / 10),
        d(t.millis),
        b'Z',
    ];
    out.extend_from_slice(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(
            UtcTime::from_millis(0).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            UtcTime::from_millis(1_764_028_801_234).rfc3339(),
            "2025-11-25T00:00:01.234Z"
        );
        assert_eq!(
            UtcTime::from_millis(951_782_400_000).date(),
            "2000-02-29",
            "leap day"
        );
        assert_eq!(
            UtcTime::from_millis(-1).rfc3339(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            UtcTime::from_millis(253_402_300_799_999).rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_round_trips(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let text = UtcTime::from_millis(ms).rfc3339();
            if text.len() == 24 {
                proptest::prop_assert_eq!(UtcTime::parse_rfc3339(&text), Some(ms));
            }
        }

        #[test]
        fn consecutive_days_are_consistent(day in -1_000_000i64..1_000_000) {
            let a = UtcTime::from_millis(day * 86_400_000);
            let b = UtcTime::from_millis(day * 86_400_000 - 1);
            proptest::prop_assert_eq!(a.hour, 0);
            proptest::prop_assert_eq!(b.hour, 23);
            proptest::prop_assert!(a.day == b.day + 1 || (a.day == 1 && (b.day >= 28)));
        }
    }
}
