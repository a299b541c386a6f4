using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Randomization;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Unblinding;

/// <summary>Bound from the "Unblinding" section.</summary>
public sealed class UnblindingOptions
{
    public const string Section = "Unblinding";

    /// <summary>How long an approval lets the allocations be read before a new request is needed.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan ApprovalLifetime { get; set; } = TimeSpan.FromDays(3);
}

public enum UnblindingStatus
{
    Pending,
    Approved,
    Expired,
}

public sealed record UnblindingRequestView(
    string RequestId, UnblindingScope Scope, string? ParticipantId, string Reason, string RequestedBy, DateTimeOffset RequestedAt,
    string? ApprovedBy, DateTimeOffset? ApprovedAt, DateTimeOffset? ExpiresAt, UnblindingStatus Status);

public sealed record ArmCount(ArmDefinition Arm, int Participants);

/// <summary>What an approved request reveals: one participant, the counts by arm (DSMB), or everything (final).</summary>
public sealed record UnblindedAllocations(UnblindingRequestView Request, IReadOnlyList<DoseOrder> Allocations, IReadOnlyList<ArmCount> ArmCounts);

/// <summary>
/// The only two ways to unblind: an investigator's emergency unblinding of one own participant, and controlled
/// unblinding requested by one statistician and approved by another. Every step is an audit event; no event
/// carries an arm.
/// </summary>
public sealed partial class Unblinder(
    TrialDbContext db, Randomizer randomizer, TrialDefinition trial, TimeProvider clock, RandomNumberGenerator random,
    AuditTrail audit, IOptions<UnblindingOptions> options, ILogger<Unblinder> logger)
{
    public async Task<DoseOrder> EmergencyUnblindAsync(Caller caller, string participantId, string reason, CancellationToken ct)
    {
        Reasons.Require(reason);
        var revealed = await db.InTransactionAsync(async t =>
        {
            var participants = randomizer.VisibleParticipant(caller, participantId);
            var found = await randomizer.UnblindedAsync(participants, t) ?? throw Randomizer.NotVisible(participantId);
            var record = await db.Participants.SingleAsync(p => p.ParticipantId == found.Assignment.ParticipantId, t);
            if (record.EmergencyUnblindedAt is null)
            {
                record.EmergencyUnblindedAt = clock.GetUtcNow();
                record.EmergencyUnblindedBy = caller.Subject;
            }
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.EmergencyUnblinding, record.ParticipantId, t,
                site: record.SiteCode, reason: reason.Trim());
            return found with { Assignment = found.Assignment with { EmergencyUnblinded = true } };
        }, ct);
        db.AfterCommit(() => LogEmergencyUnblinding(logger, revealed.Assignment.ParticipantId, caller.Subject));
        return revealed;
    }

    public async Task<UnblindingRequestView> RequestAsync(Caller caller, UnblindingScope scope, string? participantId, string reason, CancellationToken ct)
    {
        Reasons.Require(reason);
        if (scope == UnblindingScope.Participant)
        {
            if (!Identifiers.IsValidParticipantId(participantId))
                throw TrialRuleException.Invalid("participant_id", "participant_id is required for a one-participant unblinding.");
            if (!await db.Participants.AnyAsync(p => p.ParticipantId == participantId, ct))
                throw Randomizer.NotVisible(participantId!);
        }
        else if (!string.IsNullOrEmpty(participantId))
        {
            throw TrialRuleException.Invalid("participant_id", "participant_id is only given for a one-participant unblinding.");
        }

        var request = await db.InTransactionAsync(async t =>
        {
            var record = new UnblindingRequestRecord
            {
                RequestId = Identifiers.NewOpaqueCode("U", random, 8),
                Scope = scope,
                ParticipantId = scope == UnblindingScope.Participant ? participantId : null,
                Reason = reason.Trim(),
                RequestedBy = caller.Subject,
                RequestedAt = clock.GetUtcNow(),
            };
            db.UnblindingRequests.Add(record);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnblindingRequested, record.RequestId, t,
                reason: record.Reason, details: Describe(record));
            return View(record);
        }, ct);
        return request;
    }

    public async Task<UnblindingRequestView> ApproveAsync(Caller caller, string requestId, string reason, CancellationToken ct)
    {
        Reasons.Require(reason);
        if (!Identifiers.IsValidUnblindingRequestId(requestId))
            throw TrialRuleException.Invalid("unblinding_id", "unblinding_id is required: the id RequestUnblinding returned, such as U-4TABMY0X.");
        return await db.InTransactionAsync(async t =>
        {
            var record = await db.UnblindingRequests.SingleOrDefaultAsync(r => r.RequestId == requestId, t)
                ?? throw new TrialRuleException(RefusalReason.UnblindingRequestNotFound, $"No unblinding request {requestId}.");
            if (record.RequestedBy == caller.Subject)
                throw new TrialRuleException(RefusalReason.SecondStatisticianRequired, "You made this request; a different statistician must approve it.");
            if (record.ApprovedAt is not null)
                throw new TrialRuleException(RefusalReason.UnblindingAlreadyApproved, $"Request {requestId} was already approved by {record.ApprovedBy}.");
            var now = clock.GetUtcNow();
            record.ApprovedBy = caller.Subject;
            record.ApprovedAt = now;
            record.ApprovalReason = reason.Trim();
            record.ExpiresAt = now + options.Value.ApprovalLifetime;
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnblindingApproved, record.RequestId, t,
                reason: record.ApprovalReason, details: Describe(record) + (record.Scope == UnblindingScope.Final ? "; randomization closed" : ""));
            return View(record);
        }, ct);
    }

    public async Task<IReadOnlyList<UnblindingRequestView>> ListAsync(Caller caller, CancellationToken ct)
    {
        var query = db.UnblindingRequests.AsNoTracking();
        // The DSMB sees only what it can be granted: aggregates.
        if (caller.Role == TrialRole.DsmbMember) query = query.Where(r => r.Scope == UnblindingScope.DsmbAggregate);
        var records = await query.OrderBy(r => r.Id).ToListAsync(ct);
        return records.Select(View).ToList();
    }

    public async Task<UnblindedAllocations> GetAllocationsAsync(Caller caller, string requestId, CancellationToken ct)
    {
        if (!Identifiers.IsValidUnblindingRequestId(requestId))
            throw TrialRuleException.Invalid("unblinding_id", "unblinding_id is required: the id RequestUnblinding returned, such as U-4TABMY0X.");
        return await db.InTransactionAsync(async t =>
        {
            var record = await db.UnblindingRequests.AsNoTracking().SingleOrDefaultAsync(r => r.RequestId == requestId, t);
            if (record is null || (caller.Role == TrialRole.DsmbMember && record.Scope != UnblindingScope.DsmbAggregate))
                throw new TrialRuleException(RefusalReason.UnblindingRequestNotFound, $"No unblinding request {requestId} is visible to you.");
            var view = View(record);
            if (view.Status == UnblindingStatus.Pending)
                throw new TrialRuleException(RefusalReason.UnblindingNotApproved, $"Request {requestId} awaits approval by a second statistician.");
            if (view.Status == UnblindingStatus.Expired)
                throw new TrialRuleException(RefusalReason.UnblindingApprovalExpired, $"The approval of request {requestId} expired at {view.ExpiresAt:u}; make a new request.");

            var participants = record.Scope == UnblindingScope.Participant
                ? db.Participants.AsNoTracking().Where(p => p.ParticipantId == record.ParticipantId)
                : db.Participants.AsNoTracking();
            var allocations = await randomizer.UnblindedListAsync(participants, t);
            var counts = trial.RandomizedPhase.Arms.Select(a => new ArmCount(a, allocations.Count(x => x.Arm.Code == a.Code))).ToList();
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnblindedAllocationsRead, record.RequestId, t, details: Describe(record));
            // The DSMB aggregate reveals counts only, never who is in which arm.
            return new UnblindedAllocations(view, record.Scope == UnblindingScope.DsmbAggregate ? [] : allocations, counts);
        }, ct);
    }

    private UnblindingRequestView View(UnblindingRequestRecord r)
    {
        var status = r.ApprovedAt is null ? UnblindingStatus.Pending
            : r.ExpiresAt <= clock.GetUtcNow() ? UnblindingStatus.Expired
            : UnblindingStatus.Approved;
        return new UnblindingRequestView(r.RequestId, r.Scope, r.ParticipantId, r.Reason, r.RequestedBy, r.RequestedAt,
            r.ApprovedBy, r.ApprovedAt, r.ExpiresAt, status);
    }

    private static string Describe(UnblindingRequestRecord r) =>
        r.Scope == UnblindingScope.Participant ? $"scope participant {r.ParticipantId}" : $"scope {r.Scope}";


    [LoggerMessage(Level = LogLevel.Warning, Message = "Emergency unblinding of participant {ParticipantId} by {Subject}")]
    private static partial void LogEmergencyUnblinding(ILogger logger, string participantId, string subject);
}
