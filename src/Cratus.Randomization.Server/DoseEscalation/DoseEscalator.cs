using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Randomization;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.DoseEscalation;

/// <summary>A Phase I participant's open-label placement.</summary>
public sealed record CohortAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, int Cohort, string Dose, long CellCount, string ProductCode, DateTimeOffset EnrolledAt);

public sealed record SafetyReport(bool TreatmentEmergent, bool EnrolmentOnHold, string Message);

/// <summary>The escalation state with the facts behind it, for the status reply.</summary>
public sealed record EscalationReport(EscalationState State, IReadOnlyList<(SafetyEvent Event, int Cohort, bool Visible)> SafetyEvents, IReadOnlyList<DsmbDecision> Decisions);

/// <summary>
/// Phase I: enrolment into the open cohort, infusions, safety events, withdrawals and DSMB decisions, each in one
/// audited transaction. The gating rules themselves are <see cref="DoseEscalationRules"/>; this class feeds them the
/// stored facts and the clock, and refuses what they refuse.
/// </summary>
public sealed partial class DoseEscalator(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, AuditTrail audit, ParticipantIntake intake,
    ILogger<DoseEscalator> logger, AllocationSeals seals)
{
    private DoseEscalationDefinition Definition => trial.DoseEscalation
        ?? throw new TrialRuleException(RefusalReason.NoDoseEscalationPhase, "This trial has no dose-escalation phase.");

    public async Task<CohortAssignment> EnrollAsync(Caller caller, IntakeRequest request, CancellationToken ct)
    {
        var definition = Definition;
        intake.Validate(caller, request);
        // A retry with the same request_id never reaches here: RetrySafeWrites answers it from its ledger. Who the
        // person is comes first, before any capacity or eligibility rule.
        var assignment = await db.InTransactionAsync(async t =>
        {
            await intake.RefuseIfAlreadyInTheTrialAsync(request, t);
            var snapshot = await intake.CheckSiteAndEligibilityAsync(request, t);
            var state = await StateAsync(t);
            if (state.EnrolmentRefusal is { } refusal) throw refusal.ToException();
            var cohort = definition.Cohorts[state.CurrentCohort - 1];
            var taken = await db.CohortEnrolments.Where(e => e.Cohort == cohort.Number && e.Place != null).Select(e => e.Place!.Value).ToListAsync(t);
            var place = Enumerable.Range(1, cohort.Participants).First(p => !taken.Contains(p));
            var record = new CohortEnrolmentRecord
            {
                ParticipantId = Identifiers.NewOpaqueCode("P", random),
                SiteCode = request.SiteCode,
                ScreeningId = request.ScreeningId,
                RequestId = request.RequestId,
                Cohort = cohort.Number,
                Place = place,
                ProductCode = Identifiers.NewOpaqueCode("K", random),
                EnrolledAt = clock.GetUtcNow(),
                EnrolledBy = caller.Subject,
                ConsentDate = snapshot.ConsentDate,
                AgeAtConsent = snapshot.AgeAtConsent,
                Sex = snapshot.Sex,
                ClinicalFrailtyScale = snapshot.ClinicalFrailtyScale,
                MmseScore = snapshot.MmseScore,
            };
            record.AllocationSeal = seals.Seal(Facts(record));
            db.CohortEnrolments.Add(record);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.EnrolledInCohort, record.ParticipantId, t, site: record.SiteCode,
                details: $"cohort {cohort.Number} ({cohort.Dose}), place {place}; screening id {record.ScreeningId}");
            return ToAssignment(record);
        }, ct);
        db.AfterCommit(() => LogEnrolled(logger, assignment.ParticipantId, assignment.SiteCode, assignment.Cohort, caller.Subject));
        return assignment;
    }

    public async Task<(DateTimeOffset InfusedAt, DateTimeOffset WindowClosesAt)> RecordInfusionAsync(
        Caller caller, string participantId, DateTimeOffset? infusedAt, CancellationToken ct)
    {
        var definition = Definition;
        if (infusedAt is not { } at) throw TrialRuleException.Invalid("infused_at", "infused_at is required: when the infusion was given.");
        if (at > clock.GetUtcNow().AddMinutes(5)) throw TrialRuleException.Invalid("infused_at", "infused_at is in the future.");
        return await db.InTransactionAsync(async t =>
        {
            var record = await VisibleAsync(caller, participantId, t);
            if (record.WithdrawnAt is not null)
                throw new TrialRuleException(RefusalReason.ParticipantWithdrawn, $"Participant {participantId} withdrew on {record.WithdrawnAt:yyyy-MM-dd}; no infusion can be recorded.");
            if (at < record.EnrolledAt)
                throw TrialRuleException.Invalid("infused_at", $"infused_at is before the participant's enrolment ({record.EnrolledAt:u}).");
            if (record.InfusedAt is { } recorded)
            {
                if (recorded == at) return (recorded, recorded + TimeSpan.FromDays(definition.SafetyWindowDays));
                throw new TrialRuleException(RefusalReason.InfusionAlreadyRecorded, $"An infusion was already recorded for {participantId} at {recorded:u}.");
            }
            record.InfusedAt = at;
            record.InfusionRecordedBy = caller.Subject;
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Infused, record.ParticipantId, t, site: record.SiteCode,
                details: $"cohort {record.Cohort}; infused at {at:u}");
            return (at, at + TimeSpan.FromDays(definition.SafetyWindowDays));
        }, ct);
    }

    public async Task<SafetyReport> ReportSafetyEventAsync(Caller caller, string participantId, SafetyEventType? type, DateOnly? onset, bool serious, CancellationToken ct)
    {
        var definition = Definition;
        if (type is not { } kind) throw TrialRuleException.Invalid("type", "type is required: the kind of serious adverse event.");
        if (onset is not { } onsetDate) throw TrialRuleException.Invalid("onset_date", "onset_date is required and must be a real date.");
        if (onsetDate > trial.Today(clock)) throw TrialRuleException.Invalid("onset_date", "onset_date is in the future.");
        var report = await db.InTransactionAsync(async t =>
        {
            var record = await VisibleAsync(caller, participantId, t);
            var zone = TimeZoneInfo.FindSystemTimeZoneById(trial.TimeZone);
            var emergent = DoseEscalationRules.IsTreatmentEmergent(definition, kind, serious, onsetDate, record.InfusedAt, zone);
            db.SafetyEvents.Add(new SafetyEventRecord
            {
                ParticipantId = record.ParticipantId,
                Type = kind,
                Onset = onsetDate,
                Serious = serious,
                TreatmentEmergent = emergent,
                ReportedAt = clock.GetUtcNow(),
                ReportedBy = caller.Subject,
            });
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SafetyEventReported, record.ParticipantId, t, site: record.SiteCode,
                details: $"{kind}; onset {onsetDate:yyyy-MM-dd}; {(serious ? "serious" : "not serious")}; treatment-emergent: {(emergent ? "yes, enrolment on hold" : "no")}");
            await db.SaveChangesAsync(t);
            var state = await StateAsync(t);
            var message = emergent
                ? "A treatment-emergent serious adverse event inside the safety window: all enrolment is on hold until the DSMB records a decision."
                : "Recorded. It is not a treatment-emergent serious adverse event under the protocol's definition, so enrolment is not held for it.";
            return new SafetyReport(emergent, state.OnHold, message);
        }, ct);
        if (report.TreatmentEmergent) db.AfterCommit(() => LogSafetyHold(logger, participantId, caller.Subject));
        return report;
    }

    public async Task<bool> RecordWithdrawalAsync(Caller caller, string participantId, string reason, CancellationToken ct)
    {
        var definition = Definition;
        Reasons.Require(reason);
        return await db.InTransactionAsync(async t =>
        {
            var record = await VisibleAsync(caller, participantId, t);
            if (record.WithdrawnAt is not null)
                throw new TrialRuleException(RefusalReason.ParticipantWithdrawn, $"Participant {participantId} was already recorded as withdrawn on {record.WithdrawnAt:yyyy-MM-dd}.");
            record.WithdrawnAt = clock.GetUtcNow();
            record.WithdrawalReason = reason.Trim();
            // An infused participant always counts toward the cohort and its safety window.
            var freed = record.InfusedAt is null && definition.ReplaceWithdrawnBeforeInfusion;
            if (freed) record.Place = null;
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Withdrawn, record.ParticipantId, t, site: record.SiteCode,
                reason: record.WithdrawalReason, details: freed ? "before infusion; cohort place freed" : "cohort place kept");
            return freed;
        }, ct);
    }

    public async Task<EscalationReport> RecordDecisionAsync(Caller caller, DsmbDecisionKind kind, string reason, CancellationToken ct)
    {
        var definition = Definition;
        Reasons.Require(reason);
        await db.InTransactionAsync(async t =>
        {
            var state = await StateAsync(t);
            if (DoseEscalationRules.DecisionRefusal(definition, state, kind, clock.GetUtcNow()) is { } refusal)
                throw refusal.ToException();
            db.DsmbDecisions.Add(new DsmbDecisionRecord
            {
                Kind = kind,
                Cohort = state.CurrentCohort,
                DecidedAt = clock.GetUtcNow(),
                DecidedBy = caller.Subject,
                Reason = reason.Trim(),
            });
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.DsmbDecision, $"cohort {state.CurrentCohort}", t,
                reason: reason.Trim(), details: kind.ToString());
            return 0;
        }, ct);
        db.AfterCommit(() => LogDecision(logger, kind, caller.Subject));
        return await ReportAsync(caller, ct);
    }

    public async Task<EscalationReport> ReportAsync(Caller caller, CancellationToken ct)
    {
        _ = Definition;
        var (participants, events, decisions) = await FactsAsync(ct);
        var state = DoseEscalationRules.Evaluate(Definition, participants, events, decisions, clock.GetUtcNow());
        var cohortOf = participants.ToDictionary(p => p.ParticipantId, p => p);
        return new EscalationReport(state,
            events.Select(e => (e, cohortOf[e.ParticipantId].Cohort, caller.MaySee(cohortOf[e.ParticipantId].SiteCode))).ToList(),
            decisions);
    }

    /// <summary>Why the randomized phase may not randomize now, or null. Consulted inside the randomization's transaction.</summary>
    public async Task<Refusal?> RandomizationRefusalAsync(CancellationToken ct)
    {
        if (trial.DoseEscalation is null) return null;
        var state = await StateAsync(ct);
        if (state.Stopped) return state.RandomizationRefusal;
        return trial.RandomizedPhase.RequiresDoseEscalationFirst ? state.RandomizationRefusal : null;
    }

    /// <summary>The cohort dose of a Phase I participant, for the pharmacy; null when there is no such participant.</summary>
    public async Task<PharmacyOrder?> DoseOrderAsync(string participantId, CancellationToken ct)
    {
        if (trial.DoseEscalation is not { } definition) return null;
        var record = await db.CohortEnrolments.AsNoTracking().SingleOrDefaultAsync(e => e.ParticipantId == participantId, ct);
        if (record is null) return null;
        seals.Verify(Facts(record), record.AllocationSeal);
        var cohort = definition.Cohorts[record.Cohort - 1];
        return new PharmacyOrder(
            new BlindedAssignment(record.ParticipantId, record.SiteCode, record.ScreeningId, "", record.ProductCode, record.EnrolledAt, false),
            "", cohort.Number, cohort.Dose, cohort.CellCount, false);
    }

    private async Task<EscalationState> StateAsync(CancellationToken ct)
    {
        var (participants, events, decisions) = await FactsAsync(ct);
        return DoseEscalationRules.Evaluate(Definition, participants, events, decisions, clock.GetUtcNow());
    }

    private async Task<(List<CohortParticipant>, List<SafetyEvent>, List<DsmbDecision>)> FactsAsync(CancellationToken ct)
    {
        var participants = await db.CohortEnrolments.AsNoTracking()
            .Select(e => new CohortParticipant(e.ParticipantId, e.SiteCode, e.Cohort, e.EnrolledAt, e.InfusedAt, e.WithdrawnAt)).ToListAsync(ct);
        var events = await db.SafetyEvents.AsNoTracking().OrderBy(e => e.Id)
            .Select(e => new SafetyEvent(e.ParticipantId, e.Type, e.Onset, e.Serious, e.TreatmentEmergent, e.ReportedAt)).ToListAsync(ct);
        var decisions = await db.DsmbDecisions.AsNoTracking().OrderBy(d => d.Id)
            .Select(d => new DsmbDecision(d.Kind, d.Cohort, d.DecidedAt, d.DecidedBy, d.Reason)).ToListAsync(ct);
        return (participants, events, decisions);
    }

    private async Task<CohortEnrolmentRecord> VisibleAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId))
            throw TrialRuleException.Invalid("participant_id", "participant_id is required: the id EnrollInCohort returned.");
        var record = await db.CohortEnrolments.SingleOrDefaultAsync(e => e.ParticipantId == participantId, ct);
        return record is not null && caller.MaySee(record.SiteCode) ? record
            : throw new TrialRuleException(RefusalReason.ParticipantNotFound, $"No dose-escalation participant {participantId} is visible to you. Check the participant id.");
    }

    private static CohortEnrolmentFacts Facts(CohortEnrolmentRecord r) => new(r.ParticipantId, r.SiteCode, r.ScreeningId, r.Cohort, r.ProductCode);

    private CohortAssignment ToAssignment(CohortEnrolmentRecord r)
    {
        // The dose shown follows the cohort: a cohort edited in the database must not show (or prepare) another dose.
        seals.Verify(Facts(r), r.AllocationSeal);
        var cohort = Definition.Cohorts[r.Cohort - 1];
        return new CohortAssignment(r.ParticipantId, r.SiteCode, r.ScreeningId, r.Cohort, cohort.Dose, cohort.CellCount, r.ProductCode, r.EnrolledAt);
    }


    [LoggerMessage(Level = LogLevel.Information, Message = "Enrolled participant {ParticipantId} at site {SiteCode} in cohort {Cohort}, by {Subject}")]
    private static partial void LogEnrolled(ILogger logger, string participantId, string siteCode, int cohort, string subject);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Treatment-emergent serious adverse event reported for {ParticipantId} by {Subject}: enrolment on hold")]
    private static partial void LogSafetyHold(ILogger logger, string participantId, string subject);

    [LoggerMessage(Level = LogLevel.Information, Message = "DSMB decision {Decision} recorded by {Subject}")]
    private static partial void LogDecision(ILogger logger, DsmbDecisionKind decision, string subject);
}
