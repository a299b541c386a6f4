using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>
/// Enrols a person in the open Phase I cohort (open label): admission (<see cref="Admission.ToCohort"/>), then the
/// first free place of the cohort, sealed with the cohort (the dose), in one transaction with its audit event.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed partial class EnrolInCohort(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, ParticipantStore participants,
    AllocationSeals seals, AuditTrail audit, ILogger<EnrolInCohort> logger) : UseCase<IntakeRequest, CohortAssignment>
{
    protected override async Task<CohortAssignment> ExecuteAsync(Caller caller, IntakeRequest request, CancellationToken ct)
    {
        var definition = DoseEscalationPhase.Of(trial);
        if (Admission.RequestProblem(trial, request, caller.Sites) is { } invalid) throw invalid.ToException();
        // Enrolments run beside randomizations (the trial lock shared), one at a time among themselves (Phase I's
        // places); safety events, decisions, infusions and withdrawals, which move the escalation, hold the whole trial.
        var assignment = await db.InTransactionAsync(async t =>
        {
            await db.LockAsync(WriteLock.DoseEscalationPlaces, t);
            var facts = await participants.AdmissionFactsAsync(request, TrialPhase.DoseEscalation, t);
            var refusals = Admission.ToCohort(trial, request, facts, trial.Today(clock));
            if (refusals.Count > 0) throw AdmissionRefusal.Of(request, refusals, logger);
            var cohort = definition.Cohorts[facts.Escalation!.CurrentCohort - 1];
            // Each (cohort, place) is unique in the database, so a cohort can never take one participant too many.
            var taken = await db.Participants.Where(p => p.Phase == TrialPhase.DoseEscalation && p.Cohort == cohort.Number && p.Place != null)
                .Select(p => p.Place!.Value).ToListAsync(t);
            var place = Enumerable.Range(1, cohort.Participants).First(p => !taken.Contains(p));
            var participant = Participant.EnrolInCohort(Identifiers.NewOpaqueCode("P", random),
                new Admitted(request.RequestId, request.SiteCode, request.ScreeningId, EligibilityCheck.Snapshot(request.Eligibility)),
                cohort.Number, place, Identifiers.NewOpaqueCode("K", random), clock.GetUtcNow(), caller.Actor);
            participant.Seal(seals.Seal(participant.CohortFacts()));
            db.Participants.Add(participant);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.EnrolledInCohort, participant.ParticipantId, t, site: participant.SiteCode,
                details: $"cohort {cohort.Number} ({cohort.Dose}), place {place}; screening id {participant.ScreeningId}");
            return participants.Placement(participant);
        }, ct, WriteSerialization.FinerLocks);
        db.AfterCommit(() => LogEnrolled(logger, assignment.ParticipantId, assignment.SiteCode, assignment.Cohort, caller.Subject));
        return assignment;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Enrolled participant {ParticipantId} at site {SiteCode} in cohort {Cohort}, by {Subject}")]
    private static partial void LogEnrolled(ILogger logger, string participantId, string siteCode, int cohort, string subject);
}

/// <summary>The trial's Phase I, for the operations that exist only there.</summary>
internal static class DoseEscalationPhase
{
    public static DoseEscalationDefinition Of(TrialDefinition trial) => trial.DoseEscalation
        ?? throw new TrialRuleException(RefusalReason.NoDoseEscalationPhase, "This trial has no dose-escalation phase.");
}
