using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Application.Unblinding;

/// <summary>Bound from the "Unblinding" section.</summary>
public sealed class UnblindingOptions
{
    public const string Section = "Unblinding";

    /// <summary>How long an approval lets the allocations be read before a new request is needed.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan ApprovalLifetime { get; set; } = TimeSpan.FromDays(3);
}

public sealed record UnblindingRequestCommand(UnblindingScope? Scope, string? ParticipantId, string Reason);

public sealed record UnblindingApprovalCommand(string UnblindingId, string Reason, SignatureInput? Signature = null);

/// <summary>A statistician asks for controlled unblinding (<see cref="UnblindingRequest.Request"/>); a second one must approve it.</summary>
[Permitted(TrialRole.Statistician)]
public sealed class RequestUnblinding(TrialDbContext db, TimeProvider clock, RandomNumberGenerator random, AuditTrail audit)
    : UseCase<UnblindingRequestCommand, UnblindingRequestView>
{
    protected override async Task<UnblindingRequestView> ExecuteAsync(Caller caller, UnblindingRequestCommand command, CancellationToken ct)
    {
        var request = UnblindingRequest.Request(Identifiers.NewOpaqueCode("U", random, 8), command.Scope, command.ParticipantId, command.Reason,
            caller.Subject, clock.GetUtcNow());
        if (request.ParticipantId is { } participantId
            && !await db.Participants.AnyAsync(p => p.ParticipantId == participantId && p.Phase == TrialPhase.Randomized, ct))
            throw RandomizedParticipant.NotVisible(participantId);
        return await db.InTransactionAsync(async t =>
        {
            db.UnblindingRequests.Add(request);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnblindingRequested, request.RequestId, t,
                reason: request.Reason, details: request.Describe());
            return UnblindingRequestView.Of(request, clock.GetUtcNow());
        }, ct);
    }
}

/// <summary>
/// A second statistician approves a request (<see cref="UnblindingRequest.Approve"/>), signing it electronically;
/// approving the final unblinding closes randomization.
/// </summary>
[Permitted(TrialRole.Statistician)]
public sealed class ApproveUnblinding(TrialDbContext db, TimeProvider clock, ElectronicSigning signing, IOptions<UnblindingOptions> options)
    : UseCase<UnblindingApprovalCommand, UnblindingRequestView>
{
    protected override async Task<UnblindingRequestView> ExecuteAsync(Caller caller, UnblindingApprovalCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        ControlledUnblinding.RequireId(command.UnblindingId);
        ElectronicSigning.Require(command.Signature);
        return await db.InTransactionAsync(async t =>
        {
            var request = await db.UnblindingRequests.SingleOrDefaultAsync(r => r.RequestId == command.UnblindingId, t)
                ?? throw new TrialRuleException(RefusalReason.UnblindingRequestNotFound, $"No unblinding request {command.UnblindingId}.");
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.UnblindingApproval, request.RequestId, t);
            request.Approve(caller.Subject, reason, clock.GetUtcNow(), options.Value.ApprovalLifetime);
            var signature = await signing.AppendSignedAsync(pending, UnblindingRequestView.SignedContent(request), AuditActor.From(caller),
                AuditActions.UnblindingApproved, request.RequestId, t,
                reason: reason, details: request.Describe() + (request.ClosesRandomization ? "; randomization closed" : ""));
            return UnblindingRequestView.Of(request, clock.GetUtcNow(), signature);
        }, ct);
    }
}

/// <summary>The unblinding requests: all for statisticians, the aggregate ones only for the DSMB.</summary>
[Permitted(TrialRole.Statistician, TrialRole.DsmbMember)]
public sealed class ListUnblindingRequests(TrialDbContext db, TimeProvider clock, ElectronicSigning signing) : UseCase<Unit, IReadOnlyList<UnblindingRequestView>>
{
    protected override async Task<IReadOnlyList<UnblindingRequestView>> ExecuteAsync(Caller caller, Unit command, CancellationToken ct)
    {
        var query = db.UnblindingRequests.AsNoTracking();
        if (ControlledUnblinding.SeesAggregatesOnly(caller)) query = query.Where(r => r.Scope == UnblindingScope.DsmbAggregate);
        var requests = await query.OrderBy(r => r.Id).ToListAsync(ct);
        var now = clock.GetUtcNow();
        var signatures = await signing.ForRecordsAsync(SignedAction.UnblindingApproval, requests.Select(r => r.RequestId).ToList(), ct);
        return [.. requests.Select(r => UnblindingRequestView.Of(r, now, signatures.GetValueOrDefault(r.RequestId)))];
    }
}

/// <summary>
/// What an approved, unexpired request reveals (<see cref="UnblindingRequest.EnsureReadableAt"/>): one participant's
/// arm, every allocation (final), or for the DSMB the counts by arm only. Every read is audited.
/// </summary>
[Permitted(TrialRole.Statistician, TrialRole.DsmbMember)]
public sealed class ReadUnblindedAllocations(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, AuditTrail audit, ElectronicSigning signing)
    : UseCase<string, UnblindedAllocations>
{
    protected override async Task<UnblindedAllocations> ExecuteAsync(Caller caller, string unblindingId, CancellationToken ct)
    {
        ControlledUnblinding.RequireId(unblindingId);
        return await db.InTransactionAsync(async t =>
        {
            var now = clock.GetUtcNow();
            var request = await ControlledUnblinding.ReadableAsync(db, caller, unblindingId, now, t);
            var scope = ControlledUnblinding.Revealed(db, participants, request);
            var allocations = await participants.UnblindedAsync(scope, t);
            var counts = trial.RandomizedPhase.Arms.Select(a => new ArmCount(a, allocations.Count(x => x.Arm.Code == a.Code))).ToList();
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnblindedAllocationsRead, request.RequestId, t, details: request.Describe());
            // The DSMB aggregate reveals counts only, never who is in which arm.
            var signature = (await signing.ForRecordsAsync(SignedAction.UnblindingApproval, [request.RequestId], t)).GetValueOrDefault(request.RequestId);
            return new UnblindedAllocations(UnblindingRequestView.Of(request, now, signature), request.RevealsCountsOnly ? [] : allocations, counts);
        }, ct);
    }
}

internal static class ControlledUnblinding
{
    public static void RequireId(string unblindingId)
    {
        if (!Identifiers.IsValidUnblindingRequestId(unblindingId))
            throw TrialRuleException.Invalid("unblinding_id", "unblinding_id is required: the id RequestUnblinding returned, such as U-4TABMY0X.");
    }

    /// <summary>
    /// The one check before anything a controlled unblinding reveals is read (the allocations, the unblinded export): the
    /// request exists and is visible to <paramref name="caller"/> (the DSMB sees its aggregate ones only), is approved
    /// and its approval has not expired (<see cref="UnblindingRequest.EnsureReadableAt"/>). Refuses otherwise.
    /// </summary>
    public static async Task<UnblindingRequest> ReadableAsync(TrialDbContext db, Caller caller, string unblindingId, DateTimeOffset now, CancellationToken ct)
    {
        RequireId(unblindingId);
        var request = await db.UnblindingRequests.AsNoTracking().SingleOrDefaultAsync(r => r.RequestId == unblindingId, ct);
        if (request is null || (SeesAggregatesOnly(caller) && !request.RevealsCountsOnly))
            throw new TrialRuleException(RefusalReason.UnblindingRequestNotFound, $"No unblinding request {unblindingId} is visible to you.");
        request.EnsureReadableAt(now);
        return request;
    }

    /// <summary>The participants whose allocations <paramref name="request"/> covers: the one participant, or everyone.</summary>
    public static IQueryable<Participant> Revealed(TrialDbContext db, ParticipantStore participants, UnblindingRequest request) =>
        request.Scope == UnblindingScope.Participant ? participants.Query(request.ParticipantId!) : db.Participants;

    /// <summary>The DSMB sees only what it can be granted: aggregates (DOMAIN.md, "Who sees what").</summary>
    public static bool SeesAggregatesOnly(Caller caller) => caller.Role == TrialRole.DsmbMember;
}
