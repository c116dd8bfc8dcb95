//! The rotator's clock is the domain's one clock; re-exported where the rotator's users
//! (its binary, its tests) have always found it.

pub use trustlink_domain::clock::{Clock, OffsetClock, SystemClock};
