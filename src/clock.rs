//! Times as a person reads them: in their time zone (their account's setting, else their
//! browser's, else UTC). Stored times and the JSON stay UTC.

use crate::CoreError;
use chrono::{DateTime, NaiveDateTime, Utc};
pub use chrono_tz::Tz;

/// An IANA time zone by name (`Europe/Berlin`); a mistake names the field.
pub fn zone(name: &str) -> Result<Tz, CoreError> {
    name.trim().parse::<Tz>().map_err(|_| {
        CoreError::invalid("time_zone", format!("`{name}` is not an IANA time zone, like Europe/Berlin"))
    })
}

/// The zone a person reads times in: their account's (`account`), else the one their browser
/// reported (`browser`), else UTC.
pub fn viewer_zone(account: Option<&str>, browser: Option<&str>) -> Tz {
    [account, browser].into_iter().flatten().find_map(|name| zone(name).ok()).unwrap_or(Tz::UTC)
}

/// `at` on `zone`'s wall clock, with the zone's abbreviation: `Tue 2026-12-01 02:00 CET`.
pub fn local_time(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z").to_string()
}

/// A wall-clock reading without a zone (`2026-11-30T14:00`, seconds optional, as a
/// `datetime-local` field gives it) read in `zone`: a time the clocks skip reads an hour on (the
/// offset before the change), a repeated one as its first pass. None for anything else (RFC 3339 included).
pub fn from_wall_clock(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    on_wall_clock(naive, zone)
}

/// `naive` on `zone`'s wall clock, as [`from_wall_clock`] reads it.
fn on_wall_clock(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let local = zone
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())?;
    Some(local.with_timezone(&Utc))
}

/// `at` as a `datetime-local` field shows it on `zone`'s wall clock: `2026-11-30T14:00`.
pub fn wall_clock(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

/// When `day` begins on `zone`'s wall clock.
pub fn start_of_day(day: chrono::NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    on_wall_clock(midnight, zone).unwrap_or_else(|| midnight.and_utc())
}

/// Every time zone a person may choose, by name.
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_read_on_the_viewers_wall_clock() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap();
        assert_eq!(local_time(at, zone("Europe/Berlin").unwrap()), "Tue 2026-12-01 02:00 CET");
        assert_eq!(local_time(at, zone("America/New_York").unwrap()), "Mon 2026-11-30 20:00 EST");
        assert!(matches!(zone("Mars/Olympus"), Err(CoreError::Invalid { .. })));
    }

    #[test]
    fn wall_clock_readings_from_a_datetime_local_field() {
        let berlin = zone("Europe/Berlin").unwrap();
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        assert_eq!(from_wall_clock("2026-11-30T14:00", berlin), Some(at("2026-11-30T13:00:00Z")));
        assert_eq!(from_wall_clock("2026-07-01T14:00:30", berlin), Some(at("2026-07-01T12:00:30Z")));
        // 02:30 on 29 March 2026 never happens in Berlin: it reads as 03:30 CEST.
        assert_eq!(from_wall_clock("2026-03-29T02:30", berlin), Some(at("2026-03-29T01:30:00Z")));
        assert_eq!(from_wall_clock("2026-11-30T14:00:00Z", berlin), None);
        assert_eq!(from_wall_clock("soon", berlin), None);
        assert_eq!(wall_clock(at("2026-11-30T13:00:00Z"), berlin), "2026-11-30T14:00");
        assert_eq!(
            start_of_day(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), berlin),
            at("2026-11-29T23:00:00Z")
        );
    }
}
