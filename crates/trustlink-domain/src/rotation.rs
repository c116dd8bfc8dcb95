//! The rotation state machines. Each run observes the world (staging labels, the trust
//! policy, the user's keys) and derives the next step from what it sees, never from memory
//! of an earlier run: a run that crashed anywhere is resumed by the next one, and two runs
//! at once converge. Invariants kept at every step (docs/design.md): the AWSCURRENT external ID
//! is accepted by the trust policy; the AWSCURRENT access key is active; nothing a consumer
//! may still hold is deleted.

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// What the operator asked of this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ask {
    /// Rotate now even when not due.
    pub force: bool,
    /// End grace periods now: previous external IDs stop being accepted, previous keys are
    /// deactivated and then deleted on the next runs (for a leaked value).
    pub end_grace: bool,
    /// Deactivate a previous key even though it was used after the switch.
    pub release_holds: bool,
    /// Delete an inactive previous key now rather than a grace period after its
    /// deactivation (the rotator's `Compromised` command: the key leaked, nobody may switch
    /// it back on).
    pub delete_previous_now: bool,
}

/// The link's rotation settings, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// 0: never rotate on schedule.
    pub rotate_every: i64,
    pub grace: i64,
}

impl Periods {
    pub fn new(days: u32, grace_hours: u32) -> Self {
        Self {
            rotate_every: days as i64 * DAY,
            grace: grace_hours as i64 * HOUR,
        }
    }

    fn due(&self, since: i64, now: i64, ask: Ask) -> bool {
        ask.force || (self.rotate_every > 0 && now >= since + self.rotate_every)
    }

    fn next_due(&self, since: i64) -> Option<i64> {
        (self.rotate_every > 0).then(|| since + self.rotate_every)
    }
}

/// The external ID as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdView {
    pub current: String,
    /// When the AWSCURRENT version was made (the last switch, or the link's creation).
    pub current_since: i64,
    /// AWSPENDING, when on another version than AWSCURRENT.
    pub pending: Option<String>,
    /// AWSPENDING still labels the AWSCURRENT version (a run stopped right after the switch).
    pub pending_on_current: bool,
    /// The IDs the trust policy accepts.
    pub accepted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalIdStep {
    /// The trust policy does not accept AWSCURRENT: accept it again (consumers use it).
    RepairCurrent,
    ClearPendingLabel,
    CreatePending,
    /// Make the trust policy (and grant) accept current and pending.
    AcceptPending,
    /// Check the pending ID works, then make it AWSCURRENT.
    Promote,
    /// Accept only the current ID.
    RetirePrevious,
    /// A previous ID is accepted until its grace period ends.
    Wait {
        until: i64,
    },
    Idle {
        next_due: Option<i64>,
    },
}

impl ExternalIdStep {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Wait { .. } | Self::Idle { .. })
    }
}

pub fn next_external_id_step(v: &ExternalIdView, p: Periods, now: i64, ask: Ask) -> ExternalIdStep {
    use ExternalIdStep::*;
    if !v.accepted.contains(&v.current) {
        return RepairCurrent;
    }
    if v.pending_on_current {
        return ClearPendingLabel;
    }
    if let Some(pending) = &v.pending {
        return if v.accepted.contains(pending) {
            Promote
        } else {
            AcceptPending
        };
    }
    if v.accepted.iter().any(|id| *id != v.current) {
        let until = v.current_since + p.grace;
        return if ask.end_grace || now >= until {
            RetirePrevious
        } else {
            Wait { until }
        };
    }
    if p.due(v.current_since, now, ask) {
        return CreatePending;
    }
    Idle {
        next_due: p.next_due(v.current_since),
    }
}

/// One IAM access key as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyView {
    pub id: String,
    pub active: bool,
}

/// The managed access key as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyView {
    pub current: String,
    pub current_since: i64,
    pub pending: Option<String>,
    pub pending_on_current: bool,
    /// AWSPREVIOUS, when on another version than AWSCURRENT.
    pub previous: Option<String>,
    /// When the previous key was last used, if known.
    pub previous_last_used: Option<i64>,
    /// The user's keys in IAM.
    pub keys: Vec<KeyView>,
    /// Set while a key is being created.
    pub creating: Option<Creating>,
}

/// A key creation in progress (the key secret's `trustlink:keys-before-create` tag): when it
/// started, the user's key ids before it and, once known, the id of the key it made.
///
/// Only `created` proves that a key is trustlink's. A key that is merely new (outside
/// `keys_before` and every stage) may be the one an interrupted run made, or one that someone
/// added to the user since and uses: it is never deleted on that evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creating {
    pub since: i64,
    pub keys_before: Vec<String>,
    /// Recorded by the creating run when it could not store the key it made.
    pub created: Option<String>,
}

impl Creating {
    /// `<epoch>:<key id>,<key id>[:<created key id>]` (key ids have no `:` or `,`).
    pub fn to_tag(&self) -> String {
        let mut tag = format!("{}:{}", self.since, self.keys_before.join(","));
        if let Some(created) = &self.created {
            tag.push(':');
            tag.push_str(created);
        }
        tag
    }

    /// The tag as [`to_tag`](Self::to_tag) writes it (also without the created id, as
    /// earlier versions wrote it); empty or unreadable: no creation in progress.
    pub fn from_tag(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, ':');
        let since = parts.next()?.parse().ok()?;
        let keys_before = parts
            .next()?
            .split(',')
            .filter(|i| !i.is_empty())
            .map(String::from)
            .collect();
        let created = parts.next().filter(|c| !c.is_empty()).map(String::from);
        Some(Self {
            since,
            keys_before,
            created,
        })
    }
}

/// Longer than any rotator run (Lambda's 15-minute limit): a younger creation may still be
/// under way in another run.
pub const CREATION_TIMEOUT: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessKeyStep {
    /// The AWSCURRENT key is gone: nothing can restore it; a new rotation is the way out.
    CurrentMissing,
    /// The AWSCURRENT key is inactive: consumers use it, so it is switched back on.
    ReactivateCurrent,
    ClearPendingLabel,
    /// AWSPENDING names a key that no longer exists.
    DropStalePending,
    /// The key an interrupted run made and recorded as its own, never stored anywhere:
    /// nobody can hold it.
    DeleteOrphan(String),
    /// A creation was interrupted before it recorded the id of its key, and these keys
    /// appeared since: each may be that key or someone else's. Left alone, for an operator.
    UnknownKeys {
        since: i64,
        keys: Vec<String>,
    },
    /// A creation was interrupted before the key was made.
    ClearCreating,
    /// Prove the pending key works, then make it AWSCURRENT.
    Promote,
    DeactivatePrevious,
    /// The previous key was used after the switch: kept active.
    Hold {
        last_used: i64,
    },
    DeletePrevious,
    /// The previous key is gone: its label goes too.
    ForgetPrevious,
    /// Delete an inactive key that is neither current nor previous, to make room.
    MakeRoom(String),
    /// The user's other key is active and not trustlink's: no room for a new one.
    NoRoom(String),
    CreatePending,
    Wait {
        until: i64,
    },
    Idle {
        next_due: Option<i64>,
    },
}

impl AccessKeyStep {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Wait { .. }
                | Self::Idle { .. }
                | Self::Hold { .. }
                | Self::NoRoom(_)
                | Self::UnknownKeys { .. }
                | Self::CurrentMissing
        )
    }
}

pub fn next_access_key_step(v: &AccessKeyView, p: Periods, now: i64, ask: Ask) -> AccessKeyStep {
    use AccessKeyStep::*;
    let find = |id: &str| v.keys.iter().find(|k| k.id == id);
    let Some(current) = find(&v.current) else {
        // A pending key that works can still take over.
        return match &v.pending {
            Some(p) if find(p).is_some() => Promote,
            _ => CurrentMissing,
        };
    };
    if !current.active {
        return ReactivateCurrent;
    }
    if v.pending_on_current {
        return ClearPendingLabel;
    }
    if let Some(pending) = &v.pending {
        return if find(pending).is_some() {
            Promote
        } else {
            DropStalePending
        };
    }
    if let Some(creating) = &v.creating {
        return interrupted_creation(v, creating, now);
    }
    if let Some(previous) = &v.previous {
        return match find(previous) {
            None => ForgetPrevious,
            Some(k) if k.active => {
                let until = v.current_since + p.grace;
                if !ask.end_grace && now < until {
                    Wait { until }
                } else {
                    match v.previous_last_used {
                        Some(used) if used > v.current_since && !ask.release_holds => {
                            Hold { last_used: used }
                        }
                        _ => DeactivatePrevious,
                    }
                }
            }
            // Deletion keeps its own clock even when the grace is ended early: an
            // inactive key can be switched back on, a deleted one cannot.
            Some(_) => {
                let until = v.current_since + 2 * p.grace;
                if ask.delete_previous_now || now >= until {
                    DeletePrevious
                } else {
                    Wait { until }
                }
            }
        };
    }
    if !p.due(v.current_since, now, ask) {
        return Idle {
            next_due: p.next_due(v.current_since),
        };
    }
    if let Some(other) = v.keys.iter().find(|k| k.id != v.current) {
        return if other.active {
            NoRoom(format!(
                "the user's other key {} is active and not managed by trustlink; deactivate or delete it to allow rotation",
                other.id
            ))
        } else {
            MakeRoom(other.id.clone())
        };
    }
    CreatePending
}

/// What is left of a key creation that did not finish: delete only the key it recorded as
/// its own; hold on any other new key, since it may be someone else's.
fn interrupted_creation(v: &AccessKeyView, creating: &Creating, now: i64) -> AccessKeyStep {
    let staged = |id: &String| {
        *id == v.current || v.previous.as_ref() == Some(id) || v.pending.as_ref() == Some(id)
    };
    let exists = |id: &String| v.keys.iter().any(|k| k.id == *id);
    match &creating.created {
        // The creating run gave up on this key once it recorded it: no run stores it later.
        Some(id) if exists(id) && !staged(id) => return AccessKeyStep::DeleteOrphan(id.clone()),
        Some(_) => return AccessKeyStep::ClearCreating,
        None => {}
    }
    let until = creating.since + CREATION_TIMEOUT;
    if now < until {
        // Another run may be about to store (or record) the key it made.
        return AccessKeyStep::Wait { until };
    }
    let unknown: Vec<String> = v
        .keys
        .iter()
        .filter(|k| !creating.keys_before.contains(&k.id) && !staged(&k.id))
        .map(|k| k.id.clone())
        .collect();
    if unknown.is_empty() {
        AccessKeyStep::ClearCreating
    } else {
        AccessKeyStep::UnknownKeys {
            since: creating.since,
            keys: unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExternalIdStep as E;

    const T0: i64 = 1_790_000_000;
    fn periods() -> Periods {
        Periods::new(90, 24)
    }
    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn ext(accepted: &[&str], pending: Option<&str>) -> ExternalIdView {
        ExternalIdView {
            current: "cur".into(),
            current_since: T0,
            pending: pending.map(String::from),
            pending_on_current: false,
            accepted: ids(accepted),
        }
    }
    const FORCE: Ask = Ask {
        force: true,
        end_grace: false,
        release_holds: false,
        delete_previous_now: false,
    };

    #[test]
    fn external_id_cycle() {
        let p = periods();
        assert_eq!(
            next_external_id_step(&ext(&["cur"], None), p, T0 + 1, Ask::default()),
            E::Idle {
                next_due: Some(T0 + 90 * DAY)
            }
        );
        assert_eq!(
            next_external_id_step(&ext(&["cur"], None), p, T0 + 90 * DAY, Ask::default()),
            E::CreatePending
        );
        assert_eq!(
            next_external_id_step(&ext(&["cur"], None), p, T0 + 1, FORCE),
            E::CreatePending
        );
        assert_eq!(
            next_external_id_step(&ext(&["cur"], Some("new")), p, T0, FORCE),
            E::AcceptPending
        );
        assert_eq!(
            next_external_id_step(&ext(&["cur", "new"], Some("new")), p, T0, FORCE),
            E::Promote
        );
        // After the switch: "new" is current, "cur" still accepted until the grace ends.
        let mut after = ext(&["cur", "new"], None);
        after.current = "new".into();
        assert_eq!(
            next_external_id_step(&after, p, T0 + HOUR, FORCE),
            E::Wait {
                until: T0 + 24 * HOUR
            }
        );
        assert_eq!(
            next_external_id_step(&after, p, T0 + 24 * HOUR, Ask::default()),
            E::RetirePrevious
        );
        let end = Ask {
            end_grace: true,
            ..Ask::default()
        };
        assert_eq!(
            next_external_id_step(&after, p, T0 + 1, end),
            E::RetirePrevious
        );
    }

    #[test]
    fn external_id_repairs_and_resumes() {
        let p = periods();
        assert_eq!(
            next_external_id_step(&ext(&["other"], None), p, T0, Ask::default()),
            E::RepairCurrent
        );
        let mut v = ext(&["cur"], None);
        v.pending_on_current = true;
        assert_eq!(
            next_external_id_step(&v, p, T0, Ask::default()),
            E::ClearPendingLabel
        );
        let never = Periods::new(0, 24);
        assert_eq!(
            next_external_id_step(&ext(&["cur"], None), never, T0 + 1000 * DAY, Ask::default()),
            E::Idle { next_due: None }
        );
    }

    fn keys(v: &[(&str, bool)]) -> Vec<KeyView> {
        v.iter()
            .map(|(id, active)| KeyView {
                id: id.to_string(),
                active: *active,
            })
            .collect()
    }
    fn key_view(k: &[(&str, bool)]) -> AccessKeyView {
        AccessKeyView {
            current: "A".into(),
            current_since: T0,
            pending: None,
            pending_on_current: false,
            previous: None,
            previous_last_used: None,
            keys: keys(k),
            creating: None,
        }
    }
    use AccessKeyStep as K;

    #[test]
    fn access_key_cycle() {
        let p = periods();
        assert_eq!(
            next_access_key_step(&key_view(&[("A", true)]), p, T0 + 1, Ask::default()),
            K::Idle {
                next_due: Some(T0 + 90 * DAY)
            }
        );
        assert_eq!(
            next_access_key_step(&key_view(&[("A", true)]), p, T0 + 1, FORCE),
            K::CreatePending
        );
        let mut v = key_view(&[("A", true), ("B", true)]);
        v.pending = Some("B".into());
        assert_eq!(next_access_key_step(&v, p, T0, FORCE), K::Promote);
        // Switched: B current, A previous.
        let mut v = key_view(&[("A", true), ("B", true)]);
        v.current = "B".into();
        v.previous = Some("A".into());
        assert_eq!(
            next_access_key_step(&v, p, T0 + HOUR, Ask::default()),
            K::Wait {
                until: T0 + 24 * HOUR
            }
        );
        assert_eq!(
            next_access_key_step(&v, p, T0 + 24 * HOUR, Ask::default()),
            K::DeactivatePrevious
        );
        v.previous_last_used = Some(T0 + 10);
        assert_eq!(
            next_access_key_step(&v, p, T0 + 24 * HOUR, Ask::default()),
            K::Hold { last_used: T0 + 10 }
        );
        let release = Ask {
            release_holds: true,
            ..Ask::default()
        };
        let end = Ask {
            end_grace: true,
            ..Ask::default()
        };
        v.previous_last_used = None;
        assert_eq!(
            next_access_key_step(&v, p, T0 + 1, end),
            K::DeactivatePrevious
        );
        v.keys = keys(&[("A", false), ("B", true)]);
        assert_eq!(
            next_access_key_step(&v, p, T0 + 1, end),
            K::Wait {
                until: T0 + 48 * HOUR
            },
            "EndGrace never deletes early"
        );
        let compromised = Ask {
            end_grace: true,
            delete_previous_now: true,
            ..Ask::default()
        };
        assert_eq!(
            next_access_key_step(&v, p, T0 + 1, compromised),
            K::DeletePrevious,
            "a compromised key is deleted as soon as it is inactive"
        );
        v.keys = keys(&[("A", true), ("B", true)]);
        v.previous_last_used = Some(T0 + 10);
        assert_eq!(
            next_access_key_step(&v, p, T0 + 24 * HOUR, release),
            K::DeactivatePrevious
        );
        v.previous_last_used = Some(T0 - 10); // used before the switch only
        assert_eq!(
            next_access_key_step(&v, p, T0 + 24 * HOUR, Ask::default()),
            K::DeactivatePrevious
        );
        v.keys = keys(&[("A", false), ("B", true)]);
        assert_eq!(
            next_access_key_step(&v, p, T0 + 25 * HOUR, Ask::default()),
            K::Wait {
                until: T0 + 48 * HOUR
            }
        );
        assert_eq!(
            next_access_key_step(&v, p, T0 + 48 * HOUR, Ask::default()),
            K::DeletePrevious
        );
        v.keys = keys(&[("B", true)]);
        assert_eq!(
            next_access_key_step(&v, p, T0 + 48 * HOUR, Ask::default()),
            K::ForgetPrevious
        );
    }

    #[test]
    fn access_key_room_and_repairs() {
        let p = periods();
        // Two keys, the other inactive: it may go. Active and not ours: hold and say why.
        assert_eq!(
            next_access_key_step(&key_view(&[("A", true), ("X", false)]), p, T0, FORCE),
            K::MakeRoom("X".into())
        );
        assert!(
            matches!(next_access_key_step(&key_view(&[("A", true), ("X", true)]), p, T0, FORCE), K::NoRoom(m) if m.contains("X"))
        );
        // Never deactivates or deletes the current key; switches it back on.
        assert_eq!(
            next_access_key_step(&key_view(&[("A", false)]), p, T0, FORCE),
            K::ReactivateCurrent
        );
        assert_eq!(
            next_access_key_step(&key_view(&[("Z", true)]), p, T0, FORCE),
            K::CurrentMissing
        );
        // An interrupted creation that recorded its key: that key, never stored, is deleted
        // (at once: the run that recorded it gave up on it).
        let mut v = key_view(&[("A", true), ("N", true)]);
        v.creating = Some(Creating {
            since: T0,
            keys_before: ids(&["A"]),
            created: Some("N".into()),
        });
        assert_eq!(
            next_access_key_step(&v, p, T0 + 60, FORCE),
            K::DeleteOrphan("N".into())
        );
        // One that did not: the new key may be someone else's. Young: another run may be
        // about to store it; old: held, named, untouched.
        v.creating.as_mut().unwrap().created = None;
        assert_eq!(
            next_access_key_step(&v, p, T0 + 60, FORCE),
            K::Wait {
                until: T0 + CREATION_TIMEOUT
            }
        );
        let held = next_access_key_step(&v, p, T0 + CREATION_TIMEOUT, FORCE);
        assert_eq!(
            held,
            K::UnknownKeys {
                since: T0,
                keys: ids(&["N"])
            }
        );
        assert!(held.is_final());
        v.keys = keys(&[("A", true)]);
        assert_eq!(
            next_access_key_step(&v, p, T0 + CREATION_TIMEOUT, FORCE),
            K::ClearCreating
        );
        // The recorded key is gone (deleted by hand) or was stored after all: nothing to do.
        v.creating = Some(Creating {
            since: T0,
            keys_before: ids(&["A"]),
            created: Some("N".into()),
        });
        assert_eq!(next_access_key_step(&v, p, T0, FORCE), K::ClearCreating);
        v.keys = keys(&[("A", true), ("N", true)]);
        v.previous = Some("N".into());
        assert_eq!(next_access_key_step(&v, p, T0, FORCE), K::ClearCreating);
        // A pending key that was deleted by hand.
        let mut v = key_view(&[("A", true)]);
        v.pending = Some("B".into());
        assert_eq!(next_access_key_step(&v, p, T0, FORCE), K::DropStalePending);
        // The current key deleted, but the pending one exists: finish the switch.
        let mut v = key_view(&[("B", true)]);
        v.pending = Some("B".into());
        assert_eq!(next_access_key_step(&v, p, T0, Ask::default()), K::Promote);
    }

    /// The scenario of the review: a run stopped right after CreateAccessKey; someone then
    /// removed that key and added (and uses) one of their own. Nothing proves it is
    /// trustlink's: it stays, and the hold names it.
    #[test]
    fn a_foreign_key_after_an_interrupted_creation_is_never_deleted() {
        let p = periods();
        let mut v = key_view(&[("A", true), ("FOREIGN", true)]);
        v.creating = Some(Creating {
            since: T0,
            keys_before: ids(&["A"]),
            created: None,
        });
        for ask in [Ask::default(), FORCE] {
            for now in [T0 + CREATION_TIMEOUT, T0 + 400 * DAY] {
                let step = next_access_key_step(&v, p, now, ask);
                assert!(
                    !matches!(&step, K::DeleteOrphan(_) | K::MakeRoom(_)),
                    "{step:?}"
                );
                assert!(matches!(&step, K::UnknownKeys { keys, .. } if keys == &ids(&["FOREIGN"])));
            }
        }
        // The creation recorded its own key, which someone deleted: the foreign key is not it.
        v.creating.as_mut().unwrap().created = Some("N".into());
        assert_eq!(next_access_key_step(&v, p, T0, FORCE), K::ClearCreating);
    }

    #[test]
    fn the_creation_marker_reads_what_it_writes() {
        let c = Creating {
            since: T0,
            keys_before: ids(&["AKIAOLD", "AKIAOTHER"]),
            created: Some("AKIANEW".into()),
        };
        assert_eq!(c.to_tag(), format!("{T0}:AKIAOLD,AKIAOTHER:AKIANEW"));
        assert_eq!(Creating::from_tag(&c.to_tag()), Some(c));
        let earlier = Creating::from_tag(&format!("{T0}:AKIAOLD")).unwrap();
        assert_eq!(
            (earlier.keys_before, earlier.created),
            (ids(&["AKIAOLD"]), None)
        );
        assert_eq!(
            Creating::from_tag(&format!("{T0}:")).unwrap().keys_before,
            ids(&[])
        );
        assert_eq!(Creating::from_tag(""), None);
        assert_eq!(Creating::from_tag("soon:AKIAOLD"), None);
    }
}
