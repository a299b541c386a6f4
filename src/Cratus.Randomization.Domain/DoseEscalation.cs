using System.Globalization;

namespace Cratus.Randomization.Domain;

/// <summary>A DSMB decision in the dose-escalation phase.</summary>
public enum DsmbDecisionKind
{
    /// <summary>Open the next cohort (the current one is complete and its safety windows have closed).</summary>
    Escalate,
    /// <summary>Lift a hold and go on enrolling the current cohort.</summary>
    Continue,
    /// <summary>Hold all enrolment until a later decision.</summary>
    Hold,
    /// <summary>Stop the trial for good.</summary>
    Stop,
    /// <summary>Phase I is complete: open the randomized phase.</summary>
    ProceedToRandomizedPhase,
}

/// <summary>The kinds of serious adverse event a site reports. The first five are treatment-emergent SAEs (TE-SAEs)
/// by the protocol's definition when their onset falls inside the participant's safety window.</summary>
public enum SafetyEventType
{
    Death,
    NonFatalPulmonaryEmbolism,
    Stroke,
    HospitalizationForWorseningDyspnea,
    ClinicallySignificantLaboratoryAbnormality,
    OtherSeriousAdverseEvent,
}

public sealed record CohortParticipant(
    string ParticipantId, string SiteCode, int Cohort, DateTimeOffset EnrolledAt, DateTimeOffset? InfusedAt, DateTimeOffset? WithdrawnAt);

public sealed record SafetyEvent(string ParticipantId, SafetyEventType Type, DateOnly Onset, bool Serious, bool TreatmentEmergent, DateTimeOffset ReportedAt);

public sealed record DsmbDecision(DsmbDecisionKind Kind, int Cohort, DateTimeOffset DecidedAt, string DecidedBy, string Reason);

public enum CohortStatus
{
    NotOpened,
    Open,
    Full,
    Complete,
}

/// <summary>One cohort as the DSMB and the sites see it.</summary>
public sealed record CohortView(
    CohortDefinition Definition, CohortStatus Status, int Enrolled, int Infused, int Withdrawn, IReadOnlyList<DateTimeOffset> WindowsCloseAt);

/// <summary>Where the dose escalation stands, what the next step is, and what blocks it, in plain words.</summary>
public sealed record EscalationState(
    int CurrentCohort,
    bool Stopped,
    bool ProceededToRandomizedPhase,
    bool SafetyHold,
    bool DsmbHold,
    Refusal? Hold,
    IReadOnlyList<CohortView> Cohorts,
    IReadOnlyList<string> Blocking,
    string NextStep,
    Refusal? EnrolmentRefusal)
{
    public bool OnHold => SafetyHold || DsmbHold;
    public bool EnrolmentOpen => EnrolmentRefusal is null;

    /// <summary>
    /// Phase I is open label while it runs. Once the randomized phase has begun, its doses are the randomized arms'
    /// doses too (100 and 200 million cells), so a person blinded to the arms sees the cohorts by number only: no dose,
    /// no cell count, on any page, reply or message (DOMAIN.md, "Blinding").
    /// </summary>
    public static bool DosesShown(bool blindedToArms, bool randomizedPhaseBegun) => !blindedToArms || !randomizedPhaseBegun;

    /// <summary>This state with every dose and cell count left out, the texts included.</summary>
    public EscalationState WithoutDoses()
    {
        string Plain(string text) => Cohorts.Aggregate(text, (t, c) => c.Definition.Dose.Length == 0 ? t
            : t.Replace($" ({c.Definition.Dose})", "", StringComparison.Ordinal).Replace(c.Definition.Dose, "its dose", StringComparison.Ordinal));
        Refusal? PlainRefusal(Refusal? r) => r is null ? null : r with { Message = Plain(r.Message) };
        return this with
        {
            Cohorts = [.. Cohorts.Select(c => c with { Definition = c.Definition with { Dose = "", CellCount = 0 } })],
            Blocking = [.. Blocking.Select(Plain)],
            NextStep = Plain(NextStep),
            Hold = PlainRefusal(Hold),
            EnrolmentRefusal = PlainRefusal(EnrolmentRefusal),
        };
    }

    /// <summary>Why the randomized phase may not randomize now; null when it may.</summary>
    public Refusal? RandomizationRefusal =>
        Stopped ? new Refusal(RefusalReason.TrialStopped, Blocking[0])
        : !ProceededToRandomizedPhase ? new Refusal(RefusalReason.RandomizedPhaseNotOpen,
            $"The randomized phase is not open yet: Phase I must be complete and the DSMB must decide to proceed. Next step: {NextStep}")
        : Hold;
}

/// <summary>
/// The one place the Phase I gating rules live (DOMAIN.md, "Phase I"; every number from the trial definition):
/// cohort 1 is open from the start; a cohort opens only when the one before is complete, every participant has passed
/// the safety window after infusion, and the DSMB has decided to escalate; a TE-SAE inside a window holds all
/// enrolment until the DSMB records a decision; optional sentinel staggering; Phase II only after the DSMB decides to
/// proceed. Pure: the state is computed from the facts and the clock's reading.
/// </summary>
public static class DoseEscalationRules
{
    public static bool IsTreatmentEmergentType(SafetyEventType type) => type != SafetyEventType.OtherSeriousAdverseEvent;

    /// <summary>Whether an event with this onset, for a participant infused at <paramref name="infusedAt"/>, is a TE-SAE.</summary>
    public static bool IsTreatmentEmergent(DoseEscalationDefinition definition, SafetyEventType type, bool serious, DateOnly onset,
        DateTimeOffset? infusedAt, TimeZoneInfo zone) => IsTreatmentEmergent(definition.SafetyWindowDays, type, serious, onset, infusedAt, zone);

    /// <summary>The same rule for a safety window of <paramref name="safetyWindowDays"/> days (both phases use the protocol's one definition).</summary>
    public static bool IsTreatmentEmergent(int safetyWindowDays, SafetyEventType type, bool serious, DateOnly onset,
        DateTimeOffset? infusedAt, TimeZoneInfo zone)
    {
        if (!serious || !IsTreatmentEmergentType(type) || infusedAt is not { } infused) return false;
        var infusionDay = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(infused, zone).DateTime);
        return onset >= infusionDay && onset <= infusionDay.AddDays(safetyWindowDays);
    }

    public static EscalationState Evaluate(
        DoseEscalationDefinition definition, IReadOnlyList<CohortParticipant> participants, IReadOnlyList<SafetyEvent> events,
        IReadOnlyList<DsmbDecision> decisions, DateTimeOffset now)
    {
        var ordered = decisions.OrderBy(d => d.DecidedAt).ToList();
        var last = ordered.LastOrDefault();
        var stop = ordered.FirstOrDefault(d => d.Kind == DsmbDecisionKind.Stop);
        var proceeded = ordered.Any(d => d.Kind == DsmbDecisionKind.ProceedToRandomizedPhase);
        var current = Math.Min(1 + ordered.Count(d => d.Kind == DsmbDecisionKind.Escalate), definition.Cohorts.Count);
        var pendingSafety = events.Where(e => e.TreatmentEmergent && (last is null || e.ReportedAt > last.DecidedAt)).OrderBy(e => e.ReportedAt).ToList();
        var dsmbHold = last?.Kind == DsmbDecisionKind.Hold;

        var window = TimeSpan.FromDays(definition.SafetyWindowDays);
        var cohorts = definition.Cohorts.Select(c =>
        {
            var members = participants.Where(p => p.Cohort == c.Number).ToList();
            var holding = members.Where(p => HoldsPlace(definition, p)).ToList();
            var infused = members.Where(p => p.InfusedAt is not null).ToList();
            var windows = infused.Select(p => p.InfusedAt!.Value + window).Order().ToList();
            var complete = holding.Count == c.Participants && holding.All(p => p.InfusedAt is not null) && windows.All(w => w <= now);
            var status = c.Number > current ? CohortStatus.NotOpened
                : c.Number < current || complete ? CohortStatus.Complete
                : holding.Count >= c.Participants ? CohortStatus.Full
                : CohortStatus.Open;
            return new CohortView(c, status, holding.Count, infused.Count, members.Count(p => p.WithdrawnAt is not null), windows);
        }).ToList();

        var blocking = new List<string>();
        var open = cohorts[current - 1];
        Refusal? refusal = null;
        if (stop is not null)
        {
            refusal = new(RefusalReason.TrialStopped, $"The DSMB stopped the trial on {Day(stop.DecidedAt)}; no one can be enrolled or randomized.");
            blocking.Add(refusal.Message);
        }
        Refusal? holdReason = null;
        if (pendingSafety.Count > 0)
        {
            var first = pendingSafety[0];
            var hold = $"Enrolment is on hold: a treatment-emergent serious adverse event ({Words(first.Type)}, onset {first.Onset:yyyy-MM-dd}) was reported for participant {first.ParticipantId} on {Day(first.ReportedAt)}; the DSMB must record a decision (continue, hold or stop).";
            refusal ??= new(RefusalReason.EnrolmentOnSafetyHold, hold);
            holdReason = new(RefusalReason.EnrolmentOnSafetyHold, hold);
            blocking.Add(hold);
        }
        if (dsmbHold)
        {
            var hold = $"Enrolment is on hold by the DSMB's decision of {Day(last!.DecidedAt)} ({last.Reason}); the DSMB must record continue to lift it.";
            refusal ??= new(RefusalReason.EnrolmentOnSafetyHold, hold);
            holdReason ??= new(RefusalReason.EnrolmentOnSafetyHold, hold);
            blocking.Add(hold);
        }
        if (proceeded)
        {
            refusal ??= new(RefusalReason.DoseEscalationComplete, "Phase I is complete and the DSMB has opened the randomized phase; randomize participants instead.");
        }
        else if (open.Enrolled >= open.Definition.Participants)
        {
            var full = $"Cohort {open.Definition.Number} ({open.Definition.Dose}) is full: {open.Enrolled} of {open.Definition.Participants} places taken.";
            refusal ??= new(RefusalReason.CohortNotOpen, full);
            blocking.Add(full);
        }
        else if (SentinelRefusal(definition, participants, open, now) is { } sentinel)
        {
            refusal ??= new(RefusalReason.CohortNotOpen, sentinel);
            blocking.Add(sentinel);
        }

        var nextStep = NextStep(definition, cohorts, current, proceeded, stop is not null, pendingSafety.Count > 0 || dsmbHold, now);
        return new EscalationState(current, stop is not null, proceeded, pendingSafety.Count > 0, dsmbHold, holdReason, cohorts, blocking, nextStep, refusal);
    }

    /// <summary>Why the DSMB may not record <paramref name="kind"/> now; null when it may.</summary>
    public static Refusal? DecisionRefusal(DoseEscalationDefinition definition, EscalationState state, DsmbDecisionKind kind, DateTimeOffset now) =>
        DecisionProblem(definition, state, kind, now) is { } problem
            ? new Refusal(RefusalReason.DsmbDecisionNotAllowed, $"The decision '{kind}' cannot be recorded now: {problem}")
            : null;

    private static string? DecisionProblem(DoseEscalationDefinition definition, EscalationState state, DsmbDecisionKind kind, DateTimeOffset now)
    {
        if (state.Stopped) return "The trial has been stopped; no further decision can be recorded.";
        var cohort = state.Cohorts[state.CurrentCohort - 1];
        return kind switch
        {
            DsmbDecisionKind.Stop => null,
            DsmbDecisionKind.Hold => state.DsmbHold && !state.SafetyHold ? "Enrolment is already on hold by a DSMB decision." : null,
            DsmbDecisionKind.Continue => state.OnHold ? null : "Enrolment is not on hold, so there is nothing to continue.",
            _ when state.OnHold => "Enrolment is on hold; record continue (or stop) before escalating or proceeding.",
            _ when state.ProceededToRandomizedPhase => "The randomized phase is already open.",
            DsmbDecisionKind.Escalate when state.CurrentCohort == definition.Cohorts.Count =>
                $"Cohort {cohort.Definition.Number} is the last cohort; when it is complete, decide to proceed to the randomized phase.",
            DsmbDecisionKind.ProceedToRandomizedPhase when state.CurrentCohort < definition.Cohorts.Count =>
                $"Phase I is not complete: cohort {state.CurrentCohort} of {definition.Cohorts.Count} is the current one.",
            _ => CompletionRefusal(cohort, now),
        };
    }

    private static string? CompletionRefusal(CohortView cohort, DateTimeOffset now)
    {
        var c = cohort.Definition;
        if (cohort.Enrolled < c.Participants)
            return $"Cohort {c.Number} is not complete: {cohort.Enrolled} of {c.Participants} places taken.";
        if (cohort.Infused < c.Participants)
            return $"Cohort {c.Number} is not complete: {cohort.Infused} of {c.Participants} participants infused.";
        var open = cohort.WindowsCloseAt.Where(w => w > now).ToList();
        if (open.Count > 0)
            return $"Cohort {c.Number}'s safety windows have not all closed: {open.Count} still open, the last closes {Day(open.Max())}.";
        return null;
    }

    private static string NextStep(DoseEscalationDefinition definition, IReadOnlyList<CohortView> cohorts, int current, bool proceeded, bool stopped,
        bool onHold, DateTimeOffset now)
    {
        if (stopped) return "None: the trial is stopped.";
        if (onHold) return "A DSMB decision (continue, hold or stop).";
        if (proceeded) return "Phase I is complete; the randomized phase is open.";
        var cohort = cohorts[current - 1];
        var target = current == definition.Cohorts.Count ? "the decision to proceed to the randomized phase" : $"escalation to cohort {current + 1}";
        return CompletionRefusal(cohort, now) is { } missing
            ? $"Before {target}: {missing}"
            : $"Cohort {current} is complete and its windows have closed: the DSMB can record {target}.";
    }

    private static string? SentinelRefusal(DoseEscalationDefinition definition, IReadOnlyList<CohortParticipant> participants, CohortView cohort, DateTimeOffset now)
    {
        if (definition.SentinelIntervalDays <= 0 || cohort.Enrolled == 0) return null;
        var members = participants.Where(p => p.Cohort == cohort.Definition.Number && HoldsPlace(definition, p)).ToList();
        var firstInfusion = members.Where(p => p.InfusedAt is not null).Min(p => p.InfusedAt);
        if (firstInfusion is null)
            return $"Cohort {cohort.Definition.Number}'s sentinel participant has not been infused yet; the next participants wait {definition.SentinelIntervalDays} days after that infusion.";
        var opensAt = firstInfusion.Value + TimeSpan.FromDays(definition.SentinelIntervalDays);
        return now < opensAt ? $"The sentinel interval of cohort {cohort.Definition.Number} has not passed: the next participant can be enrolled from {Day(opensAt)}." : null;
    }

    /// <summary>An infused participant always holds their place; one withdrawn before infusion frees it when replacement is on.</summary>
    public static bool HoldsPlace(DoseEscalationDefinition definition, CohortParticipant p) =>
        p.InfusedAt is not null || p.WithdrawnAt is null || !definition.ReplaceWithdrawnBeforeInfusion;

    private static string Day(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static string Words(SafetyEventType type) => type switch
    {
        SafetyEventType.Death => "death",
        SafetyEventType.NonFatalPulmonaryEmbolism => "non-fatal pulmonary embolism",
        SafetyEventType.Stroke => "stroke",
        SafetyEventType.HospitalizationForWorseningDyspnea => "hospitalization for worsening dyspnea",
        SafetyEventType.ClinicallySignificantLaboratoryAbnormality => "clinically significant laboratory abnormality",
        _ => "serious adverse event",
    };
}
