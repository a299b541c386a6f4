using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Randomization;

public sealed record RandomizeCommand(string RequestId, string SiteCode, string ScreeningId, EligibilityData Eligibility);

/// <summary>What a blinded user may know of an allocation. Built without ever reading the arm.</summary>
public sealed record BlindedAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, string RandomizationNumber, string ProductCode, DateTimeOffset RandomizedAt,
    bool EmergencyUnblinded);

/// <summary>What the pharmacy prepares for a participant.</summary>
public sealed record DoseOrder(BlindedAssignment Assignment, ArmDefinition Arm);

/// <summary>
/// Randomizes participants into the concealed schedule and reads allocations back, each reader seeing only what
/// their role may. The rules come from the domain (eligibility, strata); this class adds the transaction that makes
/// "next unused entry of the stratum" atomic, and the idempotency of request ids.
/// </summary>
public sealed partial class Randomizer(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random, SecretBox secrets, AuditTrail audit,
    ILogger<Randomizer> logger)
{
    public async Task<BlindedAssignment> RandomizeAsync(Caller caller, RandomizeCommand command, CancellationToken ct)
    {
        Validate(command);
        if (!caller.Serves(command.SiteCode))
            throw new TrialRuleException(TrialFault.PermissionDenied, $"You are not registered to randomize at site {command.SiteCode}.");
        var site = await db.Sites.AsNoTracking().SingleOrDefaultAsync(s => s.Code == command.SiteCode, ct)
            ?? throw new TrialRuleException(TrialFault.InvalidArgument, $"Site {command.SiteCode} is not a site of this trial.");

        if (await FindRetryAsync(command, ct) is { } earlier) return earlier;

        var today = trial.Today(clock);
        var failures = EligibilityCheck.Evaluate(trial.Eligibility, command.Eligibility, today);
        if (failures.Count > 0)
        {
            LogIneligible(logger, command.ScreeningId, command.SiteCode, failures.Count);
            throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"Participant {command.ScreeningId} is not eligible: {string.Join("; ", failures)}.");
        }

        if (!site.Active)
            throw new TrialRuleException(TrialFault.FailedPrecondition, $"Site {site.Code} is closed to enrolment. Contact the trial administrator.");

        var snapshot = EligibilityCheck.Snapshot(command.Eligibility);
        var stratum = Strata.KeyFor(trial, command.SiteCode, snapshot.Sex);
        var (assignment, isNew) = await db.InTransactionAsync(t => AllocateAsync(caller, command, snapshot, stratum, t), ct);
        if (isNew) LogRandomized(logger, assignment.ParticipantId, assignment.SiteCode, assignment.RandomizationNumber, caller.Subject);
        return assignment;
    }

    private async Task<(BlindedAssignment, bool IsNew)> AllocateAsync(
        Caller caller, RandomizeCommand command, EligibilitySnapshot snapshot, string stratum, CancellationToken ct)
    {
        if (await FindRetryAsync(command, ct) is { } earlier) return (earlier, false);

        var closedAt = await db.UnblindingRequests.Where(r => r.Scope == UnblindingScope.Final && r.ApprovedAt != null)
            .Select(r => r.ApprovedAt).FirstOrDefaultAsync(ct);
        if (closedAt is not null)
            throw new TrialRuleException(TrialFault.FailedPrecondition,
                $"Randomization is closed for good: the final unblinding was approved on {closedAt:yyyy-MM-dd}.");

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
        await audit.AppendAsync(AuditActor.From(caller), AuditActions.ParticipantRandomized, participant.ParticipantId, ct,
            site: participant.SiteCode, details: $"randomization number {entry.RandomizationNumber}; screening id {participant.ScreeningId}; stratum {stratum}");
        return (new BlindedAssignment(participant.ParticipantId, participant.SiteCode, participant.ScreeningId,
            entry.RandomizationNumber, participant.ProductCode, participant.RandomizedAt, false), true);
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

    /// <summary>The pharmacy's unblinded read. Every read is an audited event.</summary>
    public async Task<DoseOrder> GetDoseOrderAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var order = await db.InTransactionAsync(async t =>
        {
            var found = await UnblindedAsync(VisibleParticipant(caller, participantId), t) ?? throw NotVisible(participantId);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.DoseOrderRead, found.Assignment.ParticipantId, t, site: found.Assignment.SiteCode);
            return found;
        }, ct);
        LogDoseOrderRead(logger, order.Assignment.ParticipantId, caller.Subject);
        return order;
    }

    /// <summary>A participant with the arm opened from the sealed schedule, or null. For unblinded callers only.</summary>
    internal async Task<DoseOrder?> UnblindedAsync(IQueryable<ParticipantRecord> participants, CancellationToken ct)
    {
        var found = await participants
            .Select(p => new
            {
                Assignment = new BlindedAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber,
                    p.ProductCode, p.RandomizedAt, p.EmergencyUnblindedAt != null),
                p.ScheduleEntry.Stratum,
                p.ScheduleEntry.Sequence,
                p.ScheduleEntry.ArmSealed,
            })
            .SingleOrDefaultAsync(ct);
        return found is null ? null : new DoseOrder(found.Assignment, OpenArm(found.ArmSealed, found.Stratum, found.Sequence));
    }

    internal ArmDefinition OpenArm(string sealedArm, string stratum, int sequence) =>
        trial.RandomizedPhase.FindArm(secrets.Open(sealedArm, SecretBox.ArmContext(stratum, sequence)))
        ?? throw new InvalidOperationException("the schedule holds an arm the trial definition does not know");

    /// <summary>Randomized participants per site. Never broken down by arm.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountBySiteAsync(CancellationToken ct) =>
        await db.Participants.GroupBy(p => p.SiteCode).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, StringComparer.Ordinal, ct);

    internal IQueryable<ParticipantRecord> VisibleParticipant(Caller caller, string participantId)
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
            p.ParticipantId, p.SiteCode, p.ScreeningId, p.ScheduleEntry!.RandomizationNumber, p.ProductCode, p.RandomizedAt,
            p.EmergencyUnblindedAt != null));

    internal static TrialRuleException NotVisible(string participantId) =>
        new(TrialFault.NotFound, $"No participant {participantId} is visible to you. Check the participant id.");

    private void Validate(RandomizeCommand command)
    {
        var problems = new List<string>();
        if (!Identifiers.IsValidRequestId(command.RequestId))
            problems.Add("request_id must be 8 to 64 letters, digits, '-' or '_' (a UUID works)");
        if (!Identifiers.IsValidCode(command.SiteCode))
            problems.Add("site_code must be a site code of this trial (see GetTrial)");
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
