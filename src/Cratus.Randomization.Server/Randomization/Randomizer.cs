using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Randomization;

/// <summary>What a blinded user may know of an allocation. Built without ever reading the arm.</summary>
public sealed record BlindedAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, string RandomizationNumber, string ProductCode, DateTimeOffset RandomizedAt,
    bool EmergencyUnblinded);

/// <summary>A randomized participant with the arm allocated, for unblinded readers.</summary>
public sealed record DoseOrder(BlindedAssignment Assignment, ArmDefinition Arm);

/// <summary>What the pharmacy prepares: a randomized participant's arm, or a Phase I participant's cohort dose.</summary>
public sealed record PharmacyOrder(BlindedAssignment Assignment, string ArmCode, int Cohort, string Treatment, long CellCount, bool Placebo);

/// <summary>
/// Randomizes participants into the concealed schedule and reads allocations back, each reader seeing only what
/// their role may. The rules come from the domain (eligibility, strata); this class adds the transaction that makes
/// "next unused entry of the stratum" atomic, and the idempotency of request ids.
/// </summary>
public sealed partial class Randomizer(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, SecretBox secrets, AuditTrail audit,
    ParticipantIntake intake, DoseEscalation.DoseEscalator escalation, ILogger<Randomizer> logger, AllocationSeals seals)
{
    public async Task<BlindedAssignment> RandomizeAsync(Caller caller, IntakeRequest command, CancellationToken ct)
    {
        intake.Validate(caller, command);
        // A retry with the same request_id never reaches here: RetrySafeWrites answers it from its ledger.
        var assignment = await intake.IdentityBeforeRefusalAsync(command, async () =>
        {
            var snapshot = await intake.CheckSiteAndEligibilityAsync(command, ct);
            var stratum = Strata.KeyFor(trial, command.SiteCode, snapshot.Sex);
            return await db.InTransactionAsync(t => AllocateAsync(caller, command, snapshot, stratum, afterConflict: db.WriteAttempt > 1, t), ct);
        }, ct);
        db.AfterCommit(() => LogRandomized(logger, assignment.ParticipantId, assignment.SiteCode, assignment.RandomizationNumber, caller.Subject));
        return assignment;
    }

    /// <summary>
    /// One attempt at the allocation, inside the write transaction: the less done here, the more randomizations per
    /// second. The same participant racing in twice is caught by the unique index on (site, screening id), and the
    /// attempt after that (<paramref name="afterConflict"/>) answers ALREADY_EXISTS.
    /// </summary>
    private async Task<BlindedAssignment> AllocateAsync(
        Caller caller, IntakeRequest command, EligibilitySnapshot snapshot, string stratum, bool afterConflict, CancellationToken ct)
    {
        // The same person randomized twice is refused by the unique index on (site, screening id), and the attempt
        // after that conflict names the earlier participant; a Phase I enrolment has no such index, so it is looked for.
        if (afterConflict || trial.DoseEscalation is not null) await intake.RefuseIfAlreadyInTheTrialAsync(command, ct);
        if (await escalation.RandomizationRefusalAsync(ct) is { } notOpen)
            throw notOpen.ToException();

        var closedAt = await FinalUnblindingApprovedAt.For(db)(db, ct);
        if (closedAt is not null)
            throw new TrialRuleException(RefusalReason.RandomizationClosed,
                $"Randomization is closed for good: the final unblinding was approved on {closedAt:yyyy-MM-dd}.");

        var totals = await TotalsOfTrial.For(db)(db, trial.TrialId, ct);
        if (totals is null) db.TrialTotals.Add(totals = new TrialTotalsRecord { TrialId = trial.TrialId });
        if (totals.Randomized >= trial.RandomizedPhase.TargetParticipants)
            throw new TrialRuleException(RefusalReason.TrialTargetReached,
                $"The trial has reached its target of {trial.RandomizedPhase.TargetParticipants} randomized participants; no more can be randomized.");

        // The next entry is the one after the last used in the stratum: entries are used in sequence order, without
        // gaps. The last used is found by walking the (stratum, sequence) index from its end, in the same statement:
        // the cost does not grow with the trial. A trial has one schedule (unique index), so its entries are all there is.
        var entry = await NextEntryOfStratum.For(db)(db, stratum, ct);
        if (entry is null)
            throw await db.Schedules.AnyAsync(ct)
                ? new TrialRuleException(RefusalReason.StratumListExhausted, $"The randomization list of stratum {stratum} is used up. Contact the trial statistician.")
                : new TrialRuleException(RefusalReason.ScheduleNotInPlace,
                    "No randomization schedule is in place yet. The trial statistician must generate or import it before the first randomization.");
        // An entry edited in the database is never handed out: sealing a participant to it would launder the edit.
        seals.Verify(new ScheduleEntryFacts(stratum, entry.Sequence, entry.RandomizationNumber, entry.ArmSealed), entry.EntrySeal);

        var participant = new ParticipantRecord
        {
            ParticipantId = Identifiers.NewOpaqueCode("P", random),
            SiteCode = command.SiteCode,
            ScreeningId = command.ScreeningId,
            RequestId = command.RequestId,
            Stratum = stratum,
            StratumSequence = entry.Sequence,
            ScheduleEntryId = entry.Id,
            ProductCode = Identifiers.NewOpaqueCode("K", random),
            // Whole seconds: the reply's encoded size must not vary, and sub-second precision serves no one.
            RandomizedAt = TruncateToSeconds(clock.GetUtcNow()),
            RandomizedBy = caller.Subject,
            RandomizedByRole = TrialRoles.ClaimValue(caller.Role),
            ConsentDate = snapshot.ConsentDate,
            AgeAtConsent = snapshot.AgeAtConsent,
            Sex = snapshot.Sex,
            ClinicalFrailtyScale = snapshot.ClinicalFrailtyScale,
            MmseScore = snapshot.MmseScore,
        };
        participant.AllocationSeal = seals.Seal(new ParticipantAllocationFacts(participant.ParticipantId, participant.SiteCode,
            participant.ScreeningId, stratum, entry.Sequence, participant.ProductCode, entry.Id, stratum, entry.Sequence, entry.RandomizationNumber, entry.ArmSealed));
        db.Participants.Add(participant);
        totals.Randomized++;
        await audit.AppendAsync(AuditActor.From(caller), AuditActions.ParticipantRandomized, participant.ParticipantId, ct,
            site: participant.SiteCode, details: $"randomization number {entry.RandomizationNumber}; screening id {participant.ScreeningId}; stratum {stratum}");
        return new BlindedAssignment(participant.ParticipantId, participant.SiteCode, participant.ScreeningId,
            entry.RandomizationNumber, participant.ProductCode, participant.RandomizedAt, false);
    }

    public async Task<BlindedAssignment> GetAssignmentAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw InvalidParticipantId();
        var stored = await AssignmentByParticipantId.For(db)(db, participantId, ct);
        // A site user asking for another site's participant gets the same NOT_FOUND as for one that does not exist,
        // before the seal is checked: a tampered row at another site must not tell them that it exists.
        if (stored is null || !caller.MaySee(stored.Assignment.SiteCode)) throw NotVisible(participantId);
        return Verified(stored)!;
    }

    private static readonly CompiledQuery<Func<TrialDbContext, CancellationToken, Task<DateTimeOffset?>>> FinalUnblindingApprovedAt =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, CancellationToken ct) =>
            db.UnblindingRequests.Where(r => r.Scope == UnblindingScope.Final && r.ApprovedAt != null).Select(r => r.ApprovedAt).FirstOrDefault()));

    // Tracked: the running total is updated in the same transaction.
    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<TrialTotalsRecord?>>> TotalsOfTrial =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string trialId, CancellationToken ct) =>
            db.TrialTotals.SingleOrDefault(t => t.TrialId == trialId)));

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<NextEntry?>>> NextEntryOfStratum =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string stratum, CancellationToken ct) =>
            db.ScheduleEntries.AsNoTracking()
                .Where(e => e.Stratum == stratum && e.Sequence == (db.Participants.Where(p => p.Stratum == stratum)
                    .OrderByDescending(p => p.StratumSequence).Select(p => (int?)p.StratumSequence).FirstOrDefault() ?? 0) + 1)
                .Select(e => new NextEntry(e.Id, e.Sequence, e.RandomizationNumber, e.ArmSealed, e.EntrySeal))
                .SingleOrDefault()));

    private sealed record NextEntry(long Id, int Sequence, string RandomizationNumber, string ArmSealed, string EntrySeal);

    /// <summary>A stored assignment with what binds it to its entry, checked before anyone sees it.</summary>
    private sealed record StoredAssignment(BlindedAssignment Assignment, string Stratum, int StratumSequence, long EntryId,
        string EntryStratum, int EntrySequence, string ArmSealed, string Seal);

    /// <summary>The assignment, once its seal is checked; fails closed (DATA_LOSS, a security event) when it is not as sealed.</summary>
    private BlindedAssignment? Verified(StoredAssignment? stored)
    {
        if (stored is null) return null;
        var a = stored.Assignment;
        seals.Verify(new ParticipantAllocationFacts(a.ParticipantId, a.SiteCode, a.ScreeningId, stored.Stratum, stored.StratumSequence, a.ProductCode,
            stored.EntryId, stored.EntryStratum, stored.EntrySequence, a.RandomizationNumber, stored.ArmSealed), stored.Seal);
        return a;
    }

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<StoredAssignment?>>> AssignmentByParticipantId =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string participantId, CancellationToken ct) =>
            db.Participants.AsNoTracking().Where(p => p.ParticipantId == participantId)
                .Select(p => new StoredAssignment(new BlindedAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber,
                    p.ProductCode, p.RandomizedAt, p.EmergencyUnblindedAt != null), p.Stratum, p.StratumSequence, p.ScheduleEntryId,
                    p.ScheduleEntry.Stratum, p.ScheduleEntry.Sequence, p.ScheduleEntry.ArmSealed, p.AllocationSeal))
                .SingleOrDefault()));

    /// <summary>The pharmacy's unblinded read, for a randomized or a Phase I participant. Every read is an audited event.</summary>
    public async Task<PharmacyOrder> GetDoseOrderAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var order = await db.InTransactionAsync(async t =>
        {
            var found = await UnblindedAsync(VisibleParticipant(caller, participantId), t) is { } randomized
                ? new PharmacyOrder(randomized.Assignment, randomized.Arm.Code, 0, randomized.Arm.Treatment, randomized.Arm.CellCount, randomized.Arm.Placebo)
                : await escalation.DoseOrderAsync(participantId, t) ?? throw NotVisible(participantId);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.DoseOrderRead, found.Assignment.ParticipantId, t, site: found.Assignment.SiteCode);
            return found;
        }, ct);
        LogDoseOrderRead(logger, order.Assignment.ParticipantId, caller.Subject);
        return order;
    }

    /// <summary>A participant with the arm opened from the sealed schedule, or null. For unblinded callers only.</summary>
    internal async Task<DoseOrder?> UnblindedAsync(IQueryable<ParticipantRecord> participants, CancellationToken ct) =>
        (await UnblindedListAsync(participants.Take(2), ct)).SingleOrDefault();

    /// <summary>Participants with their arms opened from the sealed schedule, in randomization order. For unblinded callers only.</summary>
    internal async Task<IReadOnlyList<DoseOrder>> UnblindedListAsync(IQueryable<ParticipantRecord> participants, CancellationToken ct)
    {
        var rows = await participants.OrderBy(p => p.Id)
            .Select(p => new
            {
                Assignment = new BlindedAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber,
                    p.ProductCode, p.RandomizedAt, p.EmergencyUnblindedAt != null),
                p.ScheduleEntry.Stratum,
                p.ScheduleEntry.Sequence,
                p.ScheduleEntry.ArmSealed,
                ParticipantStratum = p.Stratum,
                p.StratumSequence,
                p.ScheduleEntryId,
                p.AllocationSeal,
            })
            .ToListAsync(ct);
        // Every allocation is checked before any arm is opened: one that fails refuses the whole read.
        foreach (var r in rows)
            Verified(new StoredAssignment(r.Assignment, r.ParticipantStratum, r.StratumSequence, r.ScheduleEntryId, r.Stratum, r.Sequence, r.ArmSealed, r.AllocationSeal));
        return [.. rows.Select(r => new DoseOrder(r.Assignment, OpenArm(r.ArmSealed, r.Stratum, r.Sequence)))];
    }

    private ArmDefinition OpenArm(string sealedArm, string stratum, int sequence) =>
        trial.RandomizedPhase.FindArm(secrets.Open(sealedArm, SecretBox.ArmContext(stratum, sequence)))
        ?? throw new InvalidOperationException("the schedule holds an arm the trial definition does not know");

    /// <summary>Randomized participants per site. Never broken down by arm.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountBySiteAsync(CancellationToken ct) =>
        await db.Participants.GroupBy(p => p.SiteCode).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, StringComparer.Ordinal, ct);

    internal IQueryable<ParticipantRecord> VisibleParticipant(Caller caller, string participantId)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw InvalidParticipantId();
        var query = db.Participants.AsNoTracking().Where(p => p.ParticipantId == participantId);
        // A site user asking for another site's participant gets the same NOT_FOUND as for one that does not exist.
        if (!TrialRoles.IsSiteRole(caller.Role)) return query;
        var sites = caller.Sites.ToList();
        return query.Where(p => sites.Contains(p.SiteCode));
    }

    private static TrialRuleException InvalidParticipantId() =>
        TrialRuleException.Invalid("participant_id", "participant_id is required: the id Randomize returned, such as P-4TABMY0XCA.");

    internal static TrialRuleException NotVisible(string participantId) =>
        new(RefusalReason.ParticipantNotFound, $"No participant {participantId} is visible to you. Check the participant id.");

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, time.Offset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Randomized participant {ParticipantId} at site {SiteCode} with randomization number {RandomizationNumber}, by {Subject}")]
    private static partial void LogRandomized(ILogger logger, string participantId, string siteCode, string randomizationNumber, string subject);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dose order of participant {ParticipantId} read by {Subject}")]
    private static partial void LogDoseOrderRead(ILogger logger, string participantId, string subject);
}
