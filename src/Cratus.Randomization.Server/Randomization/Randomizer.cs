using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Randomization;

public sealed record RandomizeCommand(string RequestId, string SiteCode, string ScreeningId, EligibilityData Eligibility);

/// <summary>What a blinded user may know of an allocation. Built without ever reading the arm.</summary>
public sealed record BlindedAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, string RandomizationNumber, string ProductCode, DateTimeOffset RandomizedAt);

/// <summary>What the pharmacy prepares for a participant.</summary>
public sealed record DoseOrder(BlindedAssignment Assignment, ArmDefinition Arm);

/// <summary>
/// Randomizes participants into the concealed schedule and reads allocations back, each reader seeing only what
/// their role may. The rules come from the domain (eligibility, strata); this class adds the transaction that makes
/// "next unused entry of the stratum" atomic, and the idempotency of request ids.
/// </summary>
public sealed partial class Randomizer(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, ILogger<Randomizer> logger)
{
    // Concurrent writers on another node can win the race for the same entry; the unique indexes refuse the loser,
    // which then tries again from a fresh read.
    private const int MaxAttempts = 5;

    public async Task<BlindedAssignment> RandomizeAsync(Caller caller, RandomizeCommand command, CancellationToken ct)
    {
        Validate(command);
        if (!caller.Serves(command.SiteCode))
            throw new TrialRuleException(TrialFault.PermissionDenied, $"You are not registered to randomize at site {command.SiteCode}.");

        if (await FindRetryAsync(command, ct) is { } earlier) return earlier;

        var today = trial.Today(clock);
        var failures = EligibilityCheck.Evaluate(trial.Eligibility, command.Eligibility, today);
        if (failures.Count > 0)
        {
            LogIneligible(logger, command.ScreeningId, command.SiteCode, failures.Count);
            throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"Participant {command.ScreeningId} is not eligible: {string.Join("; ", failures)}.");
        }

        var snapshot = EligibilityCheck.Snapshot(command.Eligibility);
        var stratum = Strata.KeyFor(trial, command.SiteCode, snapshot.Sex);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await AllocateAsync(caller, command, snapshot, stratum, ct);
            }
            catch (DbUpdateException) when (attempt < MaxAttempts)
            {
                db.ChangeTracker.Clear();
                if (await FindRetryAsync(command, ct) is { } concurrent) return concurrent;
            }
        }
    }

    private async Task<BlindedAssignment> AllocateAsync(
        Caller caller, RandomizeCommand command, EligibilitySnapshot snapshot, string stratum, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (await FindRetryAsync(command, ct) is { } earlier) return earlier;

        var schedule = await db.Schedules.AsNoTracking().Where(s => s.TrialId == trial.TrialId).Select(s => new { s.Id }).SingleOrDefaultAsync(ct)
            ?? throw new TrialRuleException(TrialFault.FailedPrecondition,
                "No randomization schedule is in place yet. The trial statistician must generate or import it before the first randomization.");

        var randomized = await db.Participants.CountAsync(ct);
        if (randomized >= trial.RandomizedPhase.TargetParticipants)
            throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"The trial has reached its target of {trial.RandomizedPhase.TargetParticipants} randomized participants; no more can be randomized.");

        // The next entry is the one after the last used in the stratum: entries are used in sequence order, without gaps.
        var lastUsed = await db.Participants.Where(p => p.Stratum == stratum).MaxAsync(p => (int?)p.StratumSequence, ct) ?? 0;
        var entry = await db.ScheduleEntries.AsNoTracking()
            .Where(e => e.ScheduleId == schedule.Id && e.Stratum == stratum && e.Sequence == lastUsed + 1)
            .Select(e => new { e.Id, e.Sequence, e.RandomizationNumber })
            .SingleOrDefaultAsync(ct)
            ?? throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"The randomization list of stratum {stratum} is used up. Contact the trial statistician.");

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
        db.Participants.Add(participant);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        LogRandomized(logger, participant.ParticipantId, participant.SiteCode, entry.RandomizationNumber, caller.Subject);
        return new BlindedAssignment(participant.ParticipantId, participant.SiteCode, participant.ScreeningId,
            entry.RandomizationNumber, participant.ProductCode, participant.RandomizedAt);
    }

    /// <summary>The earlier answer to the same request id, or to the same participant; null when there is none.</summary>
    private async Task<BlindedAssignment?> FindRetryAsync(RandomizeCommand command, CancellationToken ct)
    {
        var byRequest = await Blinded(db.Participants.Where(p => p.RequestId == command.RequestId)).SingleOrDefaultAsync(ct);
        if (byRequest is not null)
        {
            if (byRequest.SiteCode == command.SiteCode && byRequest.ScreeningId == command.ScreeningId) return byRequest;
            throw new TrialRuleException(TrialFault.InvalidArgument,
                "This request_id was already used for another request. Use a new request_id for each participant.");
        }
        var byParticipant = await Blinded(db.Participants.Where(p => p.SiteCode == command.SiteCode && p.ScreeningId == command.ScreeningId))
            .SingleOrDefaultAsync(ct);
        if (byParticipant is not null)
            throw new TrialRuleException(TrialFault.AlreadyExists,
                $"Participant {command.ScreeningId} at site {command.SiteCode} was already randomized as participant {byParticipant.ParticipantId}. Use GetAssignment to read the assignment.");
        return null;
    }

    public async Task<BlindedAssignment> GetAssignmentAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var found = await Blinded(VisibleParticipant(caller, participantId)).SingleOrDefaultAsync(ct);
        return found ?? throw NotVisible(participantId);
    }

    public async Task<DoseOrder> GetDoseOrderAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var found = await VisibleParticipant(caller, participantId)
            .Select(p => new { p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber, p.ProductCode, p.RandomizedAt, p.ScheduleEntry.ArmCode })
            .SingleOrDefaultAsync(ct)
            ?? throw NotVisible(participantId);
        var arm = trial.RandomizedPhase.FindArm(found.ArmCode)
            ?? throw new InvalidOperationException("the schedule holds an arm the trial definition does not know");
        LogDoseOrderRead(logger, found.ParticipantId, caller.Subject);
        return new DoseOrder(
            new BlindedAssignment(found.ParticipantId, found.SiteCode, found.ScreeningId, found.RandomizationNumber, found.ProductCode, found.RandomizedAt),
            arm);
    }

    /// <summary>Randomized participants per site. Never broken down by arm.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountBySiteAsync(CancellationToken ct) =>
        await db.Participants.GroupBy(p => p.SiteCode).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, StringComparer.Ordinal, ct);

    private IQueryable<ParticipantRecord> VisibleParticipant(Caller caller, string participantId)
    {
        if (!Identifiers.IsValidParticipantId(participantId))
            throw new TrialRuleException(TrialFault.InvalidArgument, "participant_id is required: the id Randomize returned, such as P-4TABMY0XCA.");
        var query = db.Participants.AsNoTracking().Where(p => p.ParticipantId == participantId);
        // A site user asking for another site's participant gets the same NOT_FOUND as for one that does not exist.
        if (!TrialRoles.IsSiteRole(caller.Role)) return query;
        var sites = caller.Sites.ToList();
        return query.Where(p => sites.Contains(p.SiteCode));
    }

    private static IQueryable<BlindedAssignment> Blinded(IQueryable<ParticipantRecord> participants) =>
        participants.AsNoTracking().Select(p => new BlindedAssignment(
            p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber, p.ProductCode, p.RandomizedAt));

    private static TrialRuleException NotVisible(string participantId) =>
        new(TrialFault.NotFound, $"No participant {participantId} is visible to you. Check the participant id.");

    private void Validate(RandomizeCommand command)
    {
        var problems = new List<string>();
        if (!Identifiers.IsValidRequestId(command.RequestId))
            problems.Add("request_id must be 8 to 64 letters, digits, '-' or '_' (a UUID works)");
        if (!Identifiers.IsValidCode(command.SiteCode) || trial.FindSite(command.SiteCode) is null)
            problems.Add($"site_code must be one of this trial's sites ({string.Join(", ", trial.Sites.Select(s => s.Code))})");
        if (!Identifiers.IsValidScreeningId(command.ScreeningId))
            problems.Add("screening_id must be 1 to 32 letters, digits, '-' or '_' (no names or dates)");
        problems.AddRange(EligibilityCheck.FindMissingData(trial.Eligibility, command.Eligibility));
        if (problems.Count > 0)
            throw new TrialRuleException(TrialFault.InvalidArgument, $"The randomization request is incomplete: {string.Join("; ", problems)}.");
    }

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, time.Offset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Randomized participant {ParticipantId} at site {SiteCode} with randomization number {RandomizationNumber}, by {Subject}")]
    private static partial void LogRandomized(ILogger logger, string participantId, string siteCode, string randomizationNumber, string subject);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused randomization of screening id {ScreeningId} at site {SiteCode}: {FailedCriteria} eligibility criteria not met")]
    private static partial void LogIneligible(ILogger logger, string screeningId, string siteCode, int failedCriteria);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dose order of participant {ParticipantId} read by {Subject}")]
    private static partial void LogDoseOrderRead(ILogger logger, string participantId, string subject);
}
