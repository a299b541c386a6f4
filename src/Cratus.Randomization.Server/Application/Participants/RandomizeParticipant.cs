using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>
/// Randomizes a person into the concealed Phase II schedule: admission (<see cref="Admission.ToRandomization"/>), then
/// the next unused entry of their stratum, sealed to them, in one transaction with its audit event. The caller learns
/// the randomization number and the product code, never the arm.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed partial class RandomizeParticipant(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, ParticipantStore participants,
    AllocationSeals seals, AuditTrail audit, ILogger<RandomizeParticipant> logger) : UseCase<IntakeRequest, BlindedAssignment>
{
    protected override async Task<BlindedAssignment> ExecuteAsync(Caller caller, IntakeRequest request, CancellationToken ct)
    {
        if (Admission.RequestProblem(trial, request, caller.Sites) is { } invalid) throw invalid.ToException();
        // The stratum needs only the sex, present once the request is complete; the snapshot waits for the eligibility
        // check (a date of birth after the consent date has no age, and is refused there, never failed on here).
        var stratum = Strata.KeyFor(trial, request.SiteCode, request.Eligibility.Sex!.Value);
        // A retry with the same request_id never reaches here: the doors answer it from the write ledger.
        // Randomizations in other strata run beside this one (the trial lock shared, which settles the site, Phase I
        // and the final unblinding); this stratum's list and the person's own record are settled for it by the
        // stratum's lock (one person's requests all fall in one stratum, and the database refuses a second record of a
        // screening id), taken after those reads so that the stratum waits on as little as possible; the trial's totals
        // and audit chain are settled at its end (the audit tail).
        var assignment = await db.InTransactionAsync(async t =>
        {
            var trialFacts = await participants.TrialFactsAsync(request, TrialPhase.Randomized, t);
            await db.LockAsync(WriteLock.Stratum(stratum), t);
            // The stratum's next entry and the person's own record, read together; only a used-up or missing list
            // reads the record on its own, so that "already in the trial" is still told before "the list is used up".
            var next = await NextEntryOfStratum.For(db)(db, stratum, request.SiteCode, request.ScreeningId, t);
            var facts = trialFacts with { AlreadyInTrial = next is null ? await participants.AlreadyInTrialAsync(request, t) : next.Existing };
            var refusals = Admission.ToRandomization(trial, request, facts, trial.Today(clock));
            if (refusals.Count > 0) throw AdmissionRefusal.Of(request, refusals, logger);
            return await AllocateAsync(caller, request, stratum, next, facts, t);
        }, ct, WriteSerialization.FinerLocks);
        db.AfterCommit(() => LogRandomized(logger, assignment.ParticipantId, assignment.SiteCode, assignment.RandomizationNumber, caller.Subject));
        return assignment;
    }

    /// <summary>The next entry of the stratum, inside the admitting transaction: the less done here, the more randomizations per second.</summary>
    private async Task<BlindedAssignment> AllocateAsync(
        Caller caller, IntakeRequest request, string stratum, NextEntry? entry, AdmissionFacts facts, CancellationToken ct)
    {
        var snapshot = EligibilityCheck.Snapshot(request.Eligibility);
        if (entry is null)
            throw await db.Schedules.AnyAsync(ct)
                ? new TrialRuleException(RefusalReason.StratumListExhausted, $"The randomization list of stratum {stratum} is used up. Contact the trial statistician.")
                : new TrialRuleException(RefusalReason.ScheduleNotInPlace,
                    "No randomization schedule is in place yet. The trial statistician must generate or import it before the first randomization.");
        // An entry edited in the database is never handed out: sealing a participant to it would launder the edit.
        seals.Verify(new ScheduleEntryFacts(stratum, entry.Sequence, entry.RandomizationNumber, entry.ArmSealed), entry.EntrySeal);

        var participant = Participant.Randomize(Identifiers.NewOpaqueCode("P", random),
            new Admitted(request.RequestId, request.SiteCode, request.ScreeningId, snapshot),
            stratum, entry.Sequence, entry.Id, Identifiers.NewOpaqueCode("K", random), clock.GetUtcNow(), caller.Actor);
        participant.Seal(seals.Seal(new ParticipantAllocationFacts(participant.ParticipantId, participant.SiteCode, participant.ScreeningId,
            stratum, entry.Sequence, participant.ProductCode, entry.Id, stratum, entry.Sequence, entry.RandomizationNumber, entry.ArmSealed)));
        db.Participants.Add(participant);
        // The one section every randomization of every node passes through, one at a time, kept short: from here to the
        // commit (the totals with the chain's head, the inserts, the write ledger's answer, the commit). The totals are
        // kept in the same transaction, so "fewer than the target" costs one row however large the trial; the count
        // read at admission was not settled (another stratum may have randomized since), so it is decided again on
        // the settled count.
        var settled = await audit.SettleTailAsync(trial.TrialId, ct);
        if (settled is { } randomized && randomized != facts.Randomized
            && Admission.ToRandomization(trial, request, facts with { Randomized = randomized }, trial.Today(clock)) is { Count: > 0 } refusals)
            throw AdmissionRefusal.Of(request, refusals, logger);
        participants.CountRandomization(settled);
        await audit.AppendAsync(AuditActor.From(caller), AuditActions.ParticipantRandomized, participant.ParticipantId, ct,
            site: participant.SiteCode, details: $"randomization number {entry.RandomizationNumber}; screening id {participant.ScreeningId}; stratum {stratum}");
        return new BlindedAssignment(participant.ParticipantId, participant.SiteCode, participant.ScreeningId,
            entry.RandomizationNumber, participant.ProductCode, participant.EnrolledAt, false);
    }

    // The next entry is the one after the last used in the stratum: entries are used in sequence order, without gaps.
    // The last used is found by walking the (stratum, sequence) index from its end, in the same statement: the cost
    // does not grow with the trial. A trial has one schedule (unique index), so its entries are all there is. The
    // person's own record (by site and screening id, a unique index) comes with it.
    private static readonly CompiledQuery<Func<TrialDbContext, string, string, string, CancellationToken, Task<NextEntry?>>> NextEntryOfStratum =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string stratum, string site, string screeningId, CancellationToken ct) =>
            db.ScheduleEntries.AsNoTracking()
                .Where(e => e.Stratum == stratum && e.Sequence == (db.Participants.Where(p => p.Stratum == stratum)
                    .OrderByDescending(p => p.StratumSequence).Select(p => p.StratumSequence).FirstOrDefault() ?? 0) + 1)
                .Select(e => new NextEntry(e.Id, e.Sequence, e.RandomizationNumber, e.ArmSealed, e.EntrySeal,
                    db.Participants.Where(p => p.SiteCode == site && p.ScreeningId == screeningId).Select(p => p.ParticipantId).FirstOrDefault(),
                    db.Participants.Where(p => p.SiteCode == site && p.ScreeningId == screeningId).Select(p => (TrialPhase?)p.Phase).FirstOrDefault()))
                .SingleOrDefault()));

    private sealed record NextEntry(
        long Id, int Sequence, string RandomizationNumber, string ArmSealed, string EntrySeal, string? ExistingParticipantId, TrialPhase? ExistingPhase)
    {
        public ExistingParticipant? Existing => ExistingParticipantId is null ? null : new(ExistingParticipantId, ExistingPhase!.Value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Randomized participant {ParticipantId} at site {SiteCode} with randomization number {RandomizationNumber}, by {Subject}")]
    private static partial void LogRandomized(ILogger logger, string participantId, string siteCode, string randomizationNumber, string subject);
}
