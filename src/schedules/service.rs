//! Reading a schedule's cadence, and firing what is due: the scheduler every engine runs.

use super::{Missed, Schedule, ScheduleId, ScheduleTarget, SlotOutcome, TargetChoice};
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::engine;
use crate::ids::{PipelineId, RunId, TenantId, WorkspaceId};
use crate::model::{Caller, User};
use crate::operations::Initiator;
use crate::store::Store;
use crate::tokens::AccountRole;
use crate::{access, Capability, CoreError};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::str::FromStr;

/// A slot found this long after its time (its jitter window included) was missed: no process
/// watched the schedules then. Ticks come every few seconds, so a slot on time is never this late.
pub const LATE_AFTER: Duration = Duration::minutes(10);

/// A schedule's fire times: its cron expression read on its time zone's wall clock. Across a
/// daylight-saving change each day's slot fires once: one in the hour the clocks skip fires
/// when they resume (02:30 on a spring-forward night fires at 03:00), one in the hour they
/// repeat fires on its first pass, as Vixie cron does (croner's documented behaviour).
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
    zone: Tz,
}

impl Cadence {
    /// Five fields (minute, hour, day of month, month, day of week) and an IANA time zone; a
    /// mistake names its field.
    pub fn parse(cron: &str, time_zone: &str) -> Result<Cadence, CoreError> {
        let fields = cron.split_whitespace().count();
        if fields != 5 {
            return Err(CoreError::invalid(
                "cron",
                format!("Use five fields: minute hour day-of-month month day-of-week (this has {fields})"),
            ));
        }
        let parsed = Cron::from_str(cron.trim()).map_err(|error| {
            CoreError::invalid("cron", format!("`{cron}` is not a cron expression: {error}"))
        })?;
        let zone = crate::clock::zone(time_zone)?;
        Ok(Cadence { cron: parsed, zone })
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first fire time after `after`. Fire times are whole minutes: croner keeps the
    /// fraction of a second it is given, so it is dropped first.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.trunc_subsecs(0).with_timezone(&self.zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|time| time.with_timezone(&Utc))
    }

    /// The next `count` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |time| self.next_after(*time)).take(count).collect()
    }

    /// The latest fire time at or before `at`, as [`Cadence::next_after`] names it. (Searching
    /// backwards, croner places a slot the clocks skip just before the gap, and finds a slot in
    /// a repeated hour twice; each is mapped to the one fire time the forward search gives.)
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = at.trunc_subsecs(0);
        for _ in 0..3 {
            let local = at.with_timezone(&self.zone);
            let previous = self.cron.find_previous_occurrence(&local, true).ok()?.with_timezone(&Utc);
            let slot = self.next_after(previous - Duration::seconds(1))?;
            if slot <= at {
                return Some(slot);
            }
            at = previous - Duration::seconds(1);
        }
        None
    }
}

/// Where a fan-out starts tenant `tenant`'s run within the jitter window: the same offset at
/// every slot and in every process (a fixed hash, not the process's random one).
pub fn jitter_offset(schedule: ScheduleId, tenant: TenantId, jitter_minutes: i64) -> Duration {
    let window = jitter_minutes.max(0) * 60;
    if window == 0 {
        return Duration::zero();
    }
    // FNV-1a over both ids.
    let hash = schedule
        .0
        .to_le_bytes()
        .iter()
        .chain(&tenant.0.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    Duration::seconds((hash % window as u64) as i64)
}

/// How a schedule's runs are recorded: as the schedule, for its owner.
pub fn initiator(schedule: &Schedule) -> Initiator {
    Initiator::Schedule { id: schedule.id.0, name: schedule.name.clone(), owner_id: schedule.owner_id }
}

/// What one part of a slot did: `part` is the tenant of a fan-out, 0 otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub schedule: ScheduleId,
    pub slot: DateTime<Utc>,
    pub part: i64,
    pub outcome: SlotOutcome,
    pub run: Option<RunId>,
    pub reason: Option<String>,
}

/// Starts what is due at `now`: for each schedule that is not paused, its latest slot (after its
/// last change), unless a
/// process already took it (first to record the slot wins; a fan-out's tenants are taken one by
/// one as their offsets come due). Older missed slots are not run; the latest one runs late
/// (catch-up) or is recorded as skipped, as the schedule says. The owner's rights are checked
/// now: a slot they may no longer start is recorded as skipped, with the reason.
pub async fn fire_due(store: &Store, now: DateTime<Utc>) -> Result<Vec<Fired>, CoreError> {
    let mut fired = Vec::new();
    for schedule in store.active_schedules().await? {
        let cadence = match Cadence::parse(&schedule.cron, &schedule.time_zone) {
            Ok(cadence) => cadence,
            Err(error) => {
                tracing::warn!(schedule = %schedule.id, error = %error, "a stored schedule does not parse");
                continue;
            }
        };
        let Some(slot) = cadence.latest_at_or_before(now) else { continue };
        // Only slots after the schedule's last change: a schedule resumed, or given a new
        // cadence, does not run a slot from before.
        if slot <= schedule.updated_at {
            continue;
        }
        fire_slot(store, &schedule, slot, now, &mut fired).await?;
    }
    Ok(fired)
}

async fn fire_slot(
    store: &Store,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    now: DateTime<Utc>,
    fired: &mut Vec<Fired>,
) -> Result<(), CoreError> {
    let taken = store.slot_parts(schedule.id, slot).await?;
    let window = Duration::minutes(schedule.jitter_minutes.max(0));
    let late = now - (slot + window) > LATE_AFTER;
    if late && schedule.missed == Missed::Skip {
        if taken.is_empty() && store.claim_slot(schedule.id, slot, 0).await? {
            let reason = "Missed: no scheduler was running at this time.".to_string();
            fired.push(record(store, schedule, slot, 0, Err(reason)).await?);
        }
        return Ok(());
    }
    let owner = store.user_by_id(schedule.owner_id).await?;
    match schedule.target {
        ScheduleTarget::WorkspaceCapture { workspace } => {
            let tenants = store.enabled_tenants_of(workspace).await?;
            let allowed = match &owner {
                Some(owner) => fan_out_allowed(store, owner, schedule).await?,
                None => Err(owner_gone()),
            };
            for tenant in tenants {
                let part = tenant.id.0;
                let due = slot + jitter_offset(schedule.id, tenant.id, schedule.jitter_minutes);
                if taken.contains(&part) || due > now || !store.claim_slot(schedule.id, slot, part).await? {
                    continue;
                }
                let started = match &allowed {
                    Ok(()) => engine::operations::start_tenant_capture(store, &tenant, initiator(schedule))
                        .await
                        .map(|started| started.id())
                        .map_err(|error| refusal(&error)),
                    Err(reason) => Err(reason.clone()),
                };
                fired.push(record(store, schedule, slot, part, started).await?);
            }
        }
        target => {
            if !taken.is_empty() || !store.claim_slot(schedule.id, slot, 0).await? {
                return Ok(());
            }
            let started = match &owner {
                Some(owner) => start_one(store, owner, schedule, target).await,
                None => Err(owner_gone()),
            };
            fired.push(record(store, schedule, slot, 0, started).await?);
        }
    }
    Ok(())
}

/// Starts a single-target schedule's run as its owner.
async fn start_one(
    store: &Store,
    owner: &User,
    schedule: &Schedule,
    target: ScheduleTarget,
) -> Result<RunId, String> {
    let caller = Caller { user: owner.clone(), initiator: initiator(schedule) };
    let started = match target {
        ScheduleTarget::TenantCapture { tenant } => {
            let tenant = store.tenant_by_id(tenant).await.map_err(|error| refusal(&error))?;
            let tenant = tenant.ok_or_else(|| "The tenant no longer exists.".to_string())?;
            let member =
                access::tenant(store, owner, &tenant.slug, Capability::BackupsManage).await.map_err(
                    |_| format!("{} may no longer capture backups of {}.", owner.display_name, tenant.name),
                )?;
            engine::operations::start_capture(store, &member, caller.initiator)
                .await
                .map(|started| started.id())
        }
        ScheduleTarget::Pipeline { pipeline } => {
            crate::pipelines::run(store, &caller, pipeline).await.map(|started| started.operation_run_id)
        }
        ScheduleTarget::WorkspaceCapture { .. } => return Err("A fan-out starts one run per tenant.".into()),
    };
    started.map_err(|error| refusal(&error))
}

/// A workspace fan-out needs its owner to be a Site Admin of the workspace.
async fn fan_out_allowed(
    store: &Store,
    owner: &User,
    schedule: &Schedule,
) -> Result<Result<(), String>, CoreError> {
    let member = store.workspaces_of(owner.id).await?.contains(&schedule.workspace_id);
    Ok(match owner.account_role == AccountRole::SiteAdmin && member {
        true => Ok(()),
        false => Err(format!("{} is no longer a Site Admin of this workspace.", owner.display_name)),
    })
}

fn owner_gone() -> String {
    "The schedule's owner no longer exists.".into()
}

/// Why a start was refused, in words for the slot's record.
fn refusal(error: &CoreError) -> String {
    match error {
        CoreError::NotFound => "What it starts no longer exists, or its owner may no longer see it.".into(),
        CoreError::Forbidden { hint } => format!("Its owner may no longer start this. {hint}"),
        other => other.describe(),
    }
}

async fn record(
    store: &Store,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    part: i64,
    started: Result<RunId, String>,
) -> Result<Fired, CoreError> {
    let (outcome, run, reason) = match started {
        Ok(run) => (SlotOutcome::Started, Some(run), None),
        Err(reason) => (SlotOutcome::Skipped, None, Some(reason)),
    };
    store.finish_slot(schedule.id, slot, part, outcome, run, reason.as_deref()).await?;
    match (&run, &reason) {
        (Some(run), _) => {
            tracing::info!(schedule = %schedule.id, %slot, part, %run, "a schedule's slot started a run")
        }
        (None, Some(reason)) => {
            tracing::info!(schedule = %schedule.id, %slot, part, reason, "a schedule's slot was skipped")
        }
        (None, None) => {}
    }
    Ok(Fired { schedule: schedule.id, slot, part, outcome, run, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// 02:30 every day in Europe/Berlin. In 2026 the clocks go forward on 29 March at 02:00
    /// (to 03:00 CEST) and back on 25 October at 03:00 (to 02:00 CET) — the EU rule, last
    /// Sunday of March and of October at 01:00 UTC. Each of the five days fires once: on the
    /// spring-forward night, when the clocks resume at 03:00 CEST (01:00 UTC); on the fall-back
    /// night, on the first pass through 02:30 (CEST, 00:30 UTC).
    #[test]
    fn a_slot_fires_once_a_day_across_daylight_saving_changes() {
        let cadence = Cadence::parse("30 2 * * *", "Europe/Berlin").unwrap();
        assert_eq!(
            cadence.upcoming(utc(2026, 3, 27, 12, 0), 5),
            [
                utc(2026, 3, 28, 1, 30),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 30, 0, 30),
                utc(2026, 3, 31, 0, 30),
                utc(2026, 4, 1, 0, 30)
            ]
        );
        assert_eq!(
            cadence.upcoming(utc(2026, 10, 23, 12, 0), 5),
            [
                utc(2026, 10, 24, 0, 30),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 26, 1, 30),
                utc(2026, 10, 27, 1, 30),
                utc(2026, 10, 28, 1, 30)
            ]
        );
        // Looking back names the same fire times, once each.
        assert_eq!(cadence.latest_at_or_before(utc(2026, 3, 29, 1, 0)), Some(utc(2026, 3, 29, 1, 0)));
        assert_eq!(cadence.latest_at_or_before(utc(2026, 3, 29, 0, 59)), Some(utc(2026, 3, 28, 1, 30)));
        assert_eq!(cadence.latest_at_or_before(utc(2026, 10, 25, 1, 45)), Some(utc(2026, 10, 25, 0, 30)));
        assert_eq!(cadence.latest_at_or_before(utc(2026, 10, 26, 1, 30)), Some(utc(2026, 10, 26, 1, 30)));
        // A clock reading with a fraction of a second names the same whole-minute slots.
        let fraction = utc(2026, 10, 26, 1, 30) + Duration::nanoseconds(699_516_824);
        assert_eq!(cadence.latest_at_or_before(fraction), Some(utc(2026, 10, 26, 1, 30)));
        assert_eq!(cadence.next_after(fraction), Some(utc(2026, 10, 27, 1, 30)));
    }

    #[test]
    fn mistakes_name_their_field() {
        for (cron, zone, field) in [
            ("0 2 * *", "UTC", "cron"),
            ("0 0 2 * * *", "UTC", "cron"),
            ("61 2 * * *", "UTC", "cron"),
            ("0 2 * * *", "Mars/Olympus", "time_zone"),
        ] {
            match Cadence::parse(cron, zone) {
                Err(CoreError::Invalid { field: named, .. }) => assert_eq!(named, field, "{cron} {zone}"),
                other => panic!("{cron} {zone}: {other:?}"),
            }
        }
    }

    #[test]
    fn jitter_spreads_tenants_over_the_window_the_same_way_each_time() {
        let offsets: Vec<Duration> =
            (1..=1000).map(|tenant| jitter_offset(ScheduleId(7), TenantId(tenant), 120)).collect();
        assert!(offsets.iter().all(|offset| *offset >= Duration::zero() && *offset < Duration::minutes(120)));
        let early = offsets.iter().filter(|offset| **offset < Duration::minutes(60)).count();
        assert!((400..=600).contains(&early), "{early} of 1000 in the first half");
        assert_eq!(offsets[41], jitter_offset(ScheduleId(7), TenantId(42), 120));
        assert_eq!(jitter_offset(ScheduleId(7), TenantId(42), 0), Duration::zero());
    }
}

/// What creating a schedule takes, from a page's form, the JSON twin or the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub name: String,
    pub cron: String,
    #[serde(rename = "timeZone")]
    pub time_zone: String,
    /// Exactly one of `tenant` (slug), `workspace` (slug) or `pipeline` (id).
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub pipeline: Option<PipelineId>,
    #[serde(default, rename = "jitterMinutes")]
    pub jitter_minutes: Option<i64>,
    #[serde(default)]
    pub missed: Option<Missed>,
}

impl ScheduleInput {
    /// Names the target as a form's choice does: `tenant:SLUG`, `workspace:SLUG` or
    /// `pipeline:ID` (see [`choices`]).
    pub fn target(mut self, choice: &str) -> Result<ScheduleInput, CoreError> {
        let wrong = || CoreError::invalid("target", "Choose what the schedule starts");
        match choice.trim().split_once(':').ok_or_else(wrong)? {
            ("tenant", slug) => self.tenant = Some(slug.to_string()),
            ("workspace", slug) => self.workspace = Some(slug.to_string()),
            ("pipeline", id) => self.pipeline = Some(id.parse().map_err(|_| wrong())?),
            _ => return Err(wrong()),
        }
        Ok(self)
    }
}

/// The longest jitter window: half a day.
pub const JITTER_MAX_MINUTES: i64 = 720;
pub const NAME_MAX: usize = 100;

/// A schedule as its pages and the JSON twins show it: what it starts, its last slot and its
/// next five fire times.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    #[serde(flatten)]
    pub schedule: Schedule,
    /// What it starts, in words ("Capture of Contoso", "Capture of every tenant of Demo", …).
    pub target_label: String,
    pub last_slot: Option<crate::store::SlotRecord>,
    pub next_fire_times: Vec<DateTime<Utc>>,
}

/// A schedule's changes (`PATCH`): each field left out stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchedulePatch {
    pub name: Option<String>,
    pub cron: Option<String>,
    pub time_zone: Option<String>,
    pub jitter_minutes: Option<i64>,
    pub missed: Option<Missed>,
    pub paused: Option<bool>,
}

fn checked_name(name: &str) -> Result<String, CoreError> {
    let name = name.trim();
    match name.chars().count() {
        0 => Err(CoreError::invalid("name", "Name the schedule")),
        n if n > NAME_MAX => Err(CoreError::invalid("name", format!("At most {NAME_MAX} characters"))),
        _ => Ok(name.to_string()),
    }
}

fn checked_jitter(minutes: Option<i64>) -> Result<i64, CoreError> {
    match minutes.unwrap_or(0) {
        minutes @ 0..=JITTER_MAX_MINUTES => Ok(minutes),
        _ => Err(CoreError::invalid("jitterMinutes", format!("From 0 to {JITTER_MAX_MINUTES} minutes"))),
    }
}

/// The target `input` names, if `user` may schedule it: a tenant's capture needs
/// tenant.backups.manage there, a workspace fan-out a Site Admin of the workspace, a pipeline
/// write access to it. Returns the target and its workspace.
async fn target_of(
    store: &Store,
    user: &User,
    input: &ScheduleInput,
) -> Result<(ScheduleTarget, WorkspaceId), CoreError> {
    let blank = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_string)
    };
    match (blank(&input.tenant), blank(&input.workspace), input.pipeline) {
        (Some(slug), None, None) => {
            let member = access::tenant(store, user, &slug, Capability::BackupsManage).await?;
            Ok((ScheduleTarget::TenantCapture { tenant: member.tenant.id }, member.tenant.workspace_id))
        }
        (None, Some(slug), None) => {
            let workspace = store.workspace_by_slug(&slug).await?.ok_or(CoreError::NotFound)?;
            if !store.workspaces_of(user.id).await?.contains(&workspace.id) {
                return Err(CoreError::NotFound);
            }
            if user.account_role != AccountRole::SiteAdmin {
                return Err(CoreError::Forbidden {
                    hint: "Scheduling every tenant of a workspace takes a Site Admin.".into(),
                });
            }
            Ok((ScheduleTarget::WorkspaceCapture { workspace: workspace.id }, workspace.id))
        }
        (None, None, Some(pipeline)) => {
            let record =
                crate::pipelines::visible(store, user, pipeline, crate::item_access::Level::Write).await?;
            Ok((ScheduleTarget::Pipeline { pipeline }, record.workspace_id))
        }
        _ => Err(CoreError::invalid("target", "Name exactly one of tenant, workspace or pipeline")),
    }
}

/// Creates a schedule owned by `caller`, who must be allowed to start what it starts.
pub async fn create(store: &Store, caller: &Caller, input: &ScheduleInput) -> Result<Schedule, CoreError> {
    let name = checked_name(&input.name)?;
    Cadence::parse(&input.cron, &input.time_zone)?;
    let jitter_minutes = checked_jitter(input.jitter_minutes)?;
    let (target, workspace_id) = target_of(store, &caller.user, input).await?;
    let new = crate::store::NewSchedule {
        workspace_id,
        name: &name,
        cron: input.cron.trim(),
        time_zone: input.time_zone.trim(),
        target,
        jitter_minutes,
        missed: input.missed.unwrap_or_default(),
        owner_id: caller.user.id,
    };
    let id = store.create_schedule(&new).await?;
    let schedule =
        store.schedule(id).await?.ok_or_else(|| CoreError::broken(format!("schedule {id} is missing")))?;
    audit(store, &caller.initiator, &schedule, AuditAction::Create).await?;
    Ok(schedule)
}

/// Schedule `id` if `user` may see it: as a member of its tenant, a member of its workspace
/// (a fan-out) or a reader of its pipeline; platform admins see every one. Not found otherwise.
pub async fn visible(store: &Store, user: &User, id: ScheduleId) -> Result<Schedule, CoreError> {
    let schedule = store.schedule(id).await?.ok_or(CoreError::NotFound)?;
    if user.is_platform_admin || sees(store, user, &schedule).await? {
        Ok(schedule)
    } else {
        Err(CoreError::NotFound)
    }
}

async fn sees(store: &Store, user: &User, schedule: &Schedule) -> Result<bool, CoreError> {
    Ok(match schedule.target {
        ScheduleTarget::TenantCapture { tenant } => store.member_role(tenant, user.id).await?.is_some(),
        ScheduleTarget::WorkspaceCapture { workspace } => {
            store.workspaces_of(user.id).await?.contains(&workspace)
        }
        ScheduleTarget::Pipeline { pipeline } => crate::pipelines::readable(store, user, pipeline).await?,
    })
}

/// Refuses `user` changes to `schedule` unless they may start what it starts.
async fn may_change(store: &Store, user: &User, schedule: &Schedule) -> Result<(), CoreError> {
    let input = match schedule.target {
        ScheduleTarget::TenantCapture { tenant } => {
            let tenant = store.tenant_by_id(tenant).await?.ok_or(CoreError::NotFound)?;
            ScheduleInput { tenant: Some(tenant.slug), ..ScheduleInput::default() }
        }
        ScheduleTarget::WorkspaceCapture { workspace } => {
            let slug = store.workspace_by_id(workspace).await?.ok_or(CoreError::NotFound)?.slug;
            ScheduleInput { workspace: Some(slug), ..ScheduleInput::default() }
        }
        ScheduleTarget::Pipeline { pipeline } => {
            ScheduleInput { pipeline: Some(pipeline), ..ScheduleInput::default() }
        }
    };
    target_of(store, user, &input).await.map(drop)
}

/// Whether `user` may change `schedule` (and so pause, resume or delete it).
pub async fn may_manage(store: &Store, user: &User, schedule: &Schedule) -> Result<bool, CoreError> {
    match may_change(store, user, schedule).await {
        Ok(()) => Ok(true),
        Err(CoreError::NotFound | CoreError::Forbidden { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Every schedule `user` may see, by name.
pub async fn list(store: &Store, user: &User, now: DateTime<Utc>) -> Result<Vec<ScheduleView>, CoreError> {
    let mut seen = Vec::new();
    for schedule in store.all_schedules().await? {
        if user.is_platform_admin || sees(store, user, &schedule).await? {
            seen.push(schedule);
        }
    }
    views(store, seen, now).await
}

/// The schedules that start `target` (a tenant's captures, a pipeline's runs), by name; the
/// caller checked the viewer may see it.
pub async fn of_target(
    store: &Store,
    target: ScheduleTarget,
    now: DateTime<Utc>,
) -> Result<Vec<ScheduleView>, CoreError> {
    views(store, store.schedules_of(target).await?, now).await
}

/// What `user` may schedule: captures of the tenants where they manage backups, every tenant of
/// a workspace where they are a Site Admin, the pipelines they may change.
pub async fn choices(store: &Store, user: &User) -> Result<Vec<TargetChoice>, CoreError> {
    let mut choices = Vec::new();
    for membership in store.memberships_of(user.id).await? {
        if membership.can(Capability::BackupsManage) {
            choices.push(TargetChoice::tenant(&membership.tenant.slug, &membership.tenant.name));
        }
    }
    if user.account_role == AccountRole::SiteAdmin {
        for workspace in store.workspaces_of_user(user.id).await? {
            choices.push(TargetChoice::workspace(&workspace.slug, &workspace.name));
        }
    }
    for pipeline in crate::pipelines::writable(store, user).await? {
        choices.push(TargetChoice::pipeline(pipeline.id, &pipeline.name));
    }
    Ok(choices)
}

/// Every schedule, by name: for the command line, which speaks for the system.
pub async fn list_all(store: &Store, now: DateTime<Utc>) -> Result<Vec<ScheduleView>, CoreError> {
    views(store, store.all_schedules().await?, now).await
}

/// `schedules` as views, by name.
async fn views(
    store: &Store,
    schedules: Vec<Schedule>,
    now: DateTime<Utc>,
) -> Result<Vec<ScheduleView>, CoreError> {
    let mut views = Vec::new();
    for schedule in schedules {
        views.push(view(store, schedule, now).await?);
    }
    views.sort_by_key(|view| view.schedule.name.to_lowercase());
    Ok(views)
}

/// A schedule with what it starts in words, its last slot and its next five fire times.
pub async fn view(store: &Store, schedule: Schedule, now: DateTime<Utc>) -> Result<ScheduleView, CoreError> {
    let target_label = match schedule.target {
        ScheduleTarget::TenantCapture { tenant } => match store.tenant_by_id(tenant).await? {
            Some(tenant) => TargetChoice::tenant(&tenant.slug, &tenant.name).label,
            None => "Capture of a tenant that no longer exists".into(),
        },
        ScheduleTarget::WorkspaceCapture { workspace } => match store.workspace_by_id(workspace).await? {
            Some(workspace) => TargetChoice::workspace(&workspace.slug, &workspace.name).label,
            None => "Capture of every tenant of a workspace".into(),
        },
        ScheduleTarget::Pipeline { pipeline } => match store.pipeline(pipeline).await? {
            Some(record) => TargetChoice::pipeline(pipeline, &record.pipeline.name).label,
            None => "Run of a pipeline that no longer exists".into(),
        },
    };
    let next_fire_times = match Cadence::parse(&schedule.cron, &schedule.time_zone) {
        Ok(cadence) if !schedule.paused => cadence.upcoming(now, 5),
        _ => Vec::new(),
    };
    let last_slot = store.schedule_slots(schedule.id, 1).await?.into_iter().next();
    Ok(ScheduleView { schedule, target_label, last_slot, next_fire_times })
}

/// Changes what `patch` names; the schedule's owner stays.
pub async fn update(
    store: &Store,
    caller: &Caller,
    id: ScheduleId,
    patch: &SchedulePatch,
) -> Result<Schedule, CoreError> {
    let mut schedule = visible(store, &caller.user, id).await?;
    may_change(store, &caller.user, &schedule).await?;
    if let Some(name) = &patch.name {
        schedule.name = checked_name(name)?;
    }
    if let Some(cron) = &patch.cron {
        schedule.cron = cron.trim().to_string();
    }
    if let Some(zone) = &patch.time_zone {
        schedule.time_zone = zone.trim().to_string();
    }
    Cadence::parse(&schedule.cron, &schedule.time_zone)?;
    if patch.jitter_minutes.is_some() {
        schedule.jitter_minutes = checked_jitter(patch.jitter_minutes)?;
    }
    schedule.missed = patch.missed.unwrap_or(schedule.missed);
    schedule.paused = patch.paused.unwrap_or(schedule.paused);
    store.update_schedule(&schedule).await?;
    let action = match patch.paused {
        Some(true) => AuditAction::Stop,
        _ => AuditAction::Update,
    };
    audit(store, &caller.initiator, &schedule, action).await?;
    visible(store, &caller.user, id).await
}

/// Pauses or resumes schedule `id` for `actor`, whose right to was checked already (or who is
/// the system: the command line).
pub async fn set_paused(
    store: &Store,
    actor: &Initiator,
    id: ScheduleId,
    paused: bool,
) -> Result<Schedule, CoreError> {
    let mut schedule = store.schedule(id).await?.ok_or(CoreError::NotFound)?;
    schedule.paused = paused;
    store.update_schedule(&schedule).await?;
    let action = if paused { AuditAction::Stop } else { AuditAction::Update };
    audit(store, actor, &schedule, action).await?;
    store.schedule(id).await?.ok_or(CoreError::NotFound)
}

pub async fn delete(store: &Store, caller: &Caller, id: ScheduleId) -> Result<(), CoreError> {
    let schedule = visible(store, &caller.user, id).await?;
    may_change(store, &caller.user, &schedule).await?;
    remove(store, &caller.initiator, schedule.id).await.map(drop)
}

/// Deletes schedule `id` for `actor`, whose right to was checked already (or the system).
pub async fn remove(store: &Store, actor: &Initiator, id: ScheduleId) -> Result<Schedule, CoreError> {
    let schedule = store.schedule(id).await?.ok_or(CoreError::NotFound)?;
    store.delete_schedule(id).await?;
    audit(store, actor, &schedule, AuditAction::Delete).await?;
    Ok(schedule)
}

/// "Run now": starts what the schedule starts, at once, as `caller` (who must be allowed to);
/// a fan-out starts every enabled tenant of its workspace without jitter. Returns the run (a
/// fan-out: its first tenant's run).
pub async fn trigger(store: &Store, caller: &Caller, id: ScheduleId) -> Result<RunId, CoreError> {
    let schedule = visible(store, &caller.user, id).await?;
    // A tenant capture and a pipeline run check the caller's rights as they start; a fan-out
    // starts without them, so it checks first.
    let started = match schedule.target {
        ScheduleTarget::WorkspaceCapture { workspace } => {
            may_change(store, &caller.user, &schedule).await?;
            let mut first = None;
            for tenant in store.enabled_tenants_of(workspace).await? {
                let started =
                    engine::operations::start_tenant_capture(store, &tenant, caller.initiator.clone())
                        .await?;
                first.get_or_insert(started.id());
            }
            first.ok_or_else(|| CoreError::conflict("The workspace has no enabled tenant to capture."))?
        }
        ScheduleTarget::TenantCapture { tenant } => {
            let tenant = store.tenant_by_id(tenant).await?.ok_or(CoreError::NotFound)?;
            let member = access::tenant(store, &caller.user, &tenant.slug, Capability::BackupsManage).await?;
            engine::operations::start_capture(store, &member, caller.initiator.clone()).await?.id()
        }
        ScheduleTarget::Pipeline { pipeline } => {
            crate::pipelines::run(store, caller, pipeline).await?.operation_run_id
        }
    };
    Ok(started)
}

async fn audit(
    store: &Store,
    actor: &Initiator,
    schedule: &Schedule,
    action: AuditAction,
) -> Result<(), CoreError> {
    let tenant_id = match schedule.target {
        ScheduleTarget::TenantCapture { tenant } => Some(tenant),
        _ => None,
    };
    let mut details = serde_json::Map::new();
    details.insert("name".into(), schedule.name.clone().into());
    details.insert("cron".into(), schedule.cron.clone().into());
    details.insert("timeZone".into(), schedule.time_zone.clone().into());
    details.insert("paused".into(), schedule.paused.into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(schedule.workspace_id),
            tenant_id,
            actor: actor.clone(),
            kind: AuditKind::Schedule,
            action,
            target_id: schedule.id.to_string(),
            details,
        })
        .await
}
