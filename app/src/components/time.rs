//! Times as the viewer reads them: on their time zone's wall clock, with its offset from UTC
//! ("2026-11-30 21:33:06 UTC+1"), and how long ago ("3 min ago"). The zone is the account's,
//! else the browser's, else UTC; the server resolves it once per page (`PageZone`) and names it
//! in the page's `<meta name="viewer-zone">`, where the browser reads it back, so a time drawn
//! again in the browser reads as the server drew it. The JSON routes keep UTC.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use leptos::prelude::*;

/// The `<meta>` naming the viewer's time zone.
pub const ZONE_META: &str = "viewer-zone";

/// `at` on the viewer's wall clock: "2026-11-30 21:33:06 UTC+1" ("… UTC" where the offset is 0).
pub fn timestamp(at: DateTime<Utc>) -> String {
    with_offset(at, offset_seconds(at))
}

/// `at` on the viewer's wall clock, for formats of its own.
pub fn local_time(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(
        &FixedOffset::east_opt(offset_seconds(at)).unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
    )
}

fn with_offset(at: DateTime<Utc>, seconds: i32) -> String {
    let offset = FixedOffset::east_opt(seconds).unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let local = at.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S");
    let (sign, seconds) = if seconds < 0 { ('-', -seconds) } else { ('+', seconds) };
    match (seconds / 3600, seconds % 3600 / 60) {
        (0, 0) => format!("{local} UTC"),
        (hours, 0) => format!("{local} UTC{sign}{hours}"),
        (hours, minutes) => format!("{local} UTC{sign}{hours}:{minutes:02}"),
    }
}

/// How long before (or after) `now` `at` is: "just now", "3 min ago", "2 h ago", "5 days ago",
/// "in 4 min".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let gap = now - at;
    let span = gap.abs();
    let words = if span < Duration::minutes(1) {
        return "just now".into();
    } else if span < Duration::hours(1) {
        format!("{} min", span.num_minutes())
    } else if span < Duration::days(2) {
        format!("{} h", span.num_hours())
    } else {
        format!("{} days", span.num_days())
    };
    if gap > Duration::zero() {
        format!("{words} ago")
    } else {
        format!("in {words}")
    }
}

/// A time as "3 min ago", its wall-clock reading on hover and for assistive technology.
#[component]
pub fn Ago(at: DateTime<Utc>, now: DateTime<Utc>) -> impl IntoView {
    let absolute = timestamp(at);
    view! {
        <time datetime=at.to_rfc3339() title=absolute.clone() aria-label=absolute>
            {relative(at, now)}
        </time>
    }
}

/// The viewer's offset from UTC at `at`, in seconds, from the zone the server resolved for this
/// page.
#[cfg(feature = "ssr")]
fn offset_seconds(at: DateTime<Utc>) -> i32 {
    use chrono::{Offset, TimeZone};
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::guard::PageZone>().copied())
        .map(|zone| zone.0.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc())
        .unwrap_or(0)
}

/// The viewer's zone as this page names it, for the shell's `<meta>`.
#[cfg(feature = "ssr")]
pub fn page_zone_name() -> String {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| {
            parts.extensions.get::<crate::guard::PageZone>().map(|zone| zone.0.name().to_string())
        })
        .unwrap_or_else(|| "UTC".into())
}

/// The viewer's offset from UTC at `at`, in seconds, as the browser's own time-zone data
/// gives it for the zone the page names.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn offset_seconds(at: DateTime<Utc>) -> i32 {
    thread_local! {
        /// The zone's formatter, made again when the page names another zone.
        static FORMAT: std::cell::RefCell<Option<(String, js_sys::Intl::DateTimeFormat)>> = const { std::cell::RefCell::new(None) };
    }
    let Some(zone) = zone_meta().and_then(|meta| meta.get_attribute("content")) else { return 0 };
    FORMAT.with_borrow_mut(|cached| {
        if cached.as_ref().is_none_or(|(name, _)| *name != zone) {
            *cached = zone_format(&zone).map(|format| (zone.clone(), format));
        }
        let Some((_, format)) = cached else { return 0 };
        let date = js_sys::Date::new(&(at.timestamp_millis() as f64).into());
        format
            .format_to_parts(&date)
            .iter()
            .find_map(|part| {
                let kind = js_sys::Reflect::get(&part, &"type".into()).ok()?.as_string()?;
                (kind == "timeZoneName")
                    .then(|| js_sys::Reflect::get(&part, &"value".into()).ok()?.as_string())?
            })
            .and_then(|name| offset_of(&name))
            .unwrap_or(0)
    })
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn zone_meta() -> Option<web_sys::Element> {
    document().query_selector(&format!("meta[name={ZONE_META}]")).ok()?
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn zone_format(zone: &str) -> Option<js_sys::Intl::DateTimeFormat> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"timeZone".into(), &zone.into()).ok()?;
    js_sys::Reflect::set(&options, &"timeZoneName".into(), &"longOffset".into()).ok()?;
    Some(js_sys::Intl::DateTimeFormat::new(&js_sys::Array::of1(&"en-US".into()), &options))
}

/// Seconds east of UTC from Intl's long offset name: "GMT+05:30", "GMT-03:00", "GMT".
#[cfg(any(test, all(feature = "hydrate", not(feature = "ssr"))))]
fn offset_of(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("GMT")?;
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    Some(sign * (hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60))
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn offset_seconds(_: DateTime<Utc>) -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_read_with_their_offset_and_how_long_ago() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 19, 33, 6).unwrap();
        assert_eq!(with_offset(at, 0), "2026-11-30 19:33:06 UTC");
        assert_eq!(with_offset(at, 3600), "2026-11-30 20:33:06 UTC+1");
        assert_eq!(with_offset(at, 19800), "2026-12-01 01:03:06 UTC+5:30");
        assert_eq!(with_offset(at, -18000), "2026-11-30 14:33:06 UTC-5");
        for (name, seconds) in [("GMT", 0), ("GMT+05:30", 19800), ("GMT-03:00", -10800), ("GMT+09:00", 32400)]
        {
            assert_eq!(offset_of(name), Some(seconds), "{name}");
        }
        assert_eq!(relative(at - Duration::seconds(20), at), "just now");
        assert_eq!(relative(at - Duration::minutes(3), at), "3 min ago");
        assert_eq!(relative(at - Duration::hours(5), at), "5 h ago");
        assert_eq!(relative(at - Duration::days(6), at), "6 days ago");
        assert_eq!(relative(at + Duration::minutes(4), at), "in 4 min");
    }
}
