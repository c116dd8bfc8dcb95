//! Reading a value as a number, a date, a boolean or an address, the same way for policy
//! values and context values, so `"3600"` in a policy and `3600` in a request compare equal.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::Timestamp;

use super::context::CtxValue;

/// An integer or decimal, as IAM's Numeric operators take them (`"3600"`, `"-1"`, `"0.5"`).
/// Only plain decimal notation: no `inf`, `NaN` or exponents, which IAM does not document.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| s.parse::<f64>().ok()).flatten()
}

/// A date as IAM's Date operators take it: epoch seconds (`"1767225600"`), an ISO 8601
/// date-time with an offset (`"2026-01-01T00:00:00Z"`, `"...T02:00:00+02:00"`), or a bare
/// date (`"2026-01-01"`, midnight UTC), the W3C profile of ISO 8601 that IAM names.
pub(crate) fn parse_date(s: &str) -> Option<Timestamp> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|n| Timestamp::from_second(n).ok());
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let is_bare_date = s.len() == 10 && s.as_bytes().get(4) == Some(&b'-');
    let date = is_bare_date.then(|| s.parse::<Date>().ok()).flatten()?;
    Offset::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

/// `true` or `false` in any case: what IAM's Bool operator accepts.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR (`203.0.113.0/24`, `2001:db8::/32`) or a bare address (one host).
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

impl CtxValue<'_> {
    /// The value as String operators see it.
    pub(crate) fn as_text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(s) => Cow::Borrowed(s.as_ref()),
            Self::Bool(b) => Cow::Owned(b.to_string()),
            Self::Number(n) => Cow::Owned(n.to_string()),
            Self::Ip(ip) => Cow::Owned(ip.to_string()),
            Self::Time(t) => Cow::Owned(t.to_string()),
        }
    }

    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            // i64 to f64 rounds beyond 2^53: no real context value gets there.
            Self::Number(n) => Some(*n as f64),
            Self::Text(s) => parse_number(s),
            _ => None,
        }
    }

    pub(crate) fn as_date(&self) -> Option<Timestamp> {
        match self {
            Self::Time(t) => Some(*t),
            Self::Number(n) => Timestamp::from_second(*n).ok(),
            Self::Text(s) => parse_date(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Text(s) => parse_bool(s),
            _ => None,
        }
    }

    pub(crate) fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ip(ip) => Some(*ip),
            Self::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let rows = [
            ("3600", Some(3600.0)),
            ("-1", Some(-1.0)),
            ("+2", Some(2.0)),
            ("0.5", Some(0.5)),
            ("1.", Some(1.0)),
            ("", None),
            (".5", None),
            ("1e3", None),
            ("inf", None),
            ("NaN", None),
            ("12a", None),
            ("-", None),
        ];
        for (text, expected) in rows {
            assert_eq!(parse_number(text), expected, "{text}");
        }
    }

    #[test]
    fn dates() {
        let jan1 = Some(Timestamp::from_second(1_767_225_600).unwrap());
        let rows = [
            ("1767225600", jan1),
            ("2026-01-01T00:00:00Z", jan1),
            ("2026-01-01T02:00:00+02:00", jan1),
            ("2026-01-01T00:00:00.000Z", jan1),
            ("2026-01-01", jan1),
            ("2026-01-01T00:00:00", None),
            ("2026-13-01", None),
            ("yesterday", None),
            ("", None),
            ("99999999999999999999", None),
        ];
        for (text, expected) in rows {
            assert_eq!(parse_date(text), expected, "{text}");
        }
    }

    #[test]
    fn bools_and_cidrs() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(
            parse_cidr("203.0.113.0/24").map(|n| n.prefix_len()),
            Some(24)
        );
        assert_eq!(parse_cidr("203.0.113.7").map(|n| n.prefix_len()), Some(32));
        assert_eq!(
            parse_cidr("2001:db8::/32").map(|n| n.prefix_len()),
            Some(32)
        );
        assert_eq!(parse_cidr("2001:db8::1").map(|n| n.prefix_len()), Some(128));
        assert_eq!(parse_cidr("203.0.113.0/33"), None);
        assert_eq!(parse_cidr("nowhere"), None);
    }

    #[test]
    fn context_values_convert() {
        let jan1 = Timestamp::from_second(1_767_225_600).unwrap();
        assert_eq!(CtxValue::Number(1_767_225_600).as_date(), Some(jan1));
        assert_eq!(CtxValue::Time(jan1).as_text(), "2026-01-01T00:00:00Z");
        assert_eq!(CtxValue::Bool(true).as_text(), "true");
        assert_eq!(CtxValue::Text("42".into()).as_number(), Some(42.0));
        assert_eq!(CtxValue::Bool(true).as_number(), None);
        assert_eq!(CtxValue::Text("TRUE".into()).as_bool(), Some(true));
        assert_eq!(
            CtxValue::Text("::1".into()).as_ip(),
            Some("::1".parse().unwrap())
        );
    }
}
