//! Packet time. Timestamps are nanoseconds since the Unix epoch, taken from
//! the capture, never from a clock.

/// Nanoseconds since the Unix epoch (packet time).
pub type Nanos = i64;

/// One second in [`Nanos`].
pub const SECOND: Nanos = 1_000_000_000;
/// One millisecond in [`Nanos`].
pub const MILLI: Nanos = 1_000_000;

/// The latest packet time processed: 2^62 ns after the epoch, in 2116.
pub const LATEST: Nanos = 1 << 62;

/// Whether a capture time is one the engine processes: from the epoch to
/// [`LATEST`]. Any two such times are less than 2^63 ns apart, so their
/// difference, and a time plus a timeout, cannot overflow. A frame outside
/// is counted (`time_out_of_range`) and left out: it could only come from a
/// damaged or crafted file (pcapng's `if_tsoffset`, a count of seconds, can
/// move an interface's times anywhere in the range of an i64).
#[inline]
pub fn in_range(t: Nanos) -> bool {
    (0..=LATEST).contains(&t)
}

/// `later - earlier`, saturating. Packet times are input: a crafted capture
/// can put two of them 2^63 ns apart or more (pcapng's `if_tsoffset`), and
/// a plain subtraction would overflow.
#[inline]
pub fn since(later: Nanos, earlier: Nanos) -> Nanos {
    later.saturating_sub(earlier)
}

/// How far apart two packet times are (saturating, as [`since`]).
#[inline]
pub fn apart(a: Nanos, b: Nanos) -> Nanos {
    Nanos::try_from(a.abs_diff(b)).unwrap_or(Nanos::MAX)
}

/// Formats a packet timestamp as RFC 3339 UTC with microseconds,
/// e.g. `2024-03-01T12:00:00.123456Z`.
pub fn rfc3339(ts: Nanos) -> String {
    let secs = ts.div_euclid(SECOND);
    let micros = ts.rem_euclid(SECOND) / 1_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses the RFC 3339 form written by [`rfc3339`] (and any `Z`/offset
/// form with optional fraction) back to [`Nanos`]. Used by tools that
/// filter event files by time.
pub fn parse_rfc3339(s: &str) -> Option<Nanos> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                frac = frac * 10 + i64::from(c - b'0');
                digits += 1;
            }
            i += 1;
        }
        while digits < 9 {
            frac *= 10;
            digits += 1;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) * SECOND + frac)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T23:59:59.123456Z (leap day)
        assert_eq!(
            rfc3339(1_709_251_199_123_456_789),
            "2024-02-29T23:59:59.123456Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parses_back() {
        for ts in [
            0,
            1_709_251_199_123_456_000,
            951_782_400 * SECOND,
            4_102_444_800 * SECOND,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ts)), Some(ts));
        }
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
