namespace Cratus.Randomization.Domain;

/// <summary>What a controlled unblinding reveals once approved.</summary>
public enum UnblindingScope
{
    /// <summary>One participant's arm.</summary>
    Participant,
    /// <summary>Counts by arm for the DSMB, never who is in which arm.</summary>
    DsmbAggregate,
    /// <summary>Every allocation, at the end of the trial; its approval closes randomization for good.</summary>
    Final,
}

public enum UnblindingStatus
{
    /// <summary>Requested, awaiting a second statistician.</summary>
    Pending,
    /// <summary>Approved; the allocations may be read until the approval expires.</summary>
    Approved,
    /// <summary>The approval has run out; a new request is needed.</summary>
    Expired,
}

/// <summary>
/// A statistician's request for controlled unblinding (DOMAIN.md, "Unblinding"): requested with a reason, approved by
/// a different statistician with a reason, readable until the approval expires. The approval of a final unblinding
/// closes randomization for good. Each method refuses the transitions the procedure does not allow.
/// </summary>
public sealed class UnblindingRequest
{
    private UnblindingRequest()
    {
    }

    public long Id { get; private set; }
    /// <summary>The id the service gives out ("U-4TABMY0X").</summary>
    public string RequestId { get; private set; } = "";
    public UnblindingScope Scope { get; private set; }
    /// <summary>The participant of a one-participant request; null otherwise.</summary>
    public string? ParticipantId { get; private set; }
    public string Reason { get; private set; } = "";
    public string RequestedBy { get; private set; } = "";
    public DateTimeOffset RequestedAt { get; private set; }
    public string? ApprovedBy { get; private set; }
    public DateTimeOffset? ApprovedAt { get; private set; }
    public string? ApprovalReason { get; private set; }
    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>
    /// A new request. <paramref name="participantId"/> is given for a one-participant request and only for it; whether
    /// that participant exists is for the caller to establish.
    /// </summary>
    public static UnblindingRequest Request(string requestId, UnblindingScope? scope, string? participantId, string reason, string requestedBy, DateTimeOffset at)
    {
        if (scope is not { } s || !Enum.IsDefined(s))
            throw TrialRuleException.Invalid("scope", "scope is required: participant, DSMB aggregate or final.");
        var trimmedReason = Reasons.Require(reason);
        if (s == UnblindingScope.Participant && !Identifiers.IsValidParticipantId(participantId))
            throw TrialRuleException.Invalid("participant_id", "participant_id is required for a one-participant unblinding.");
        if (s != UnblindingScope.Participant && !string.IsNullOrEmpty(participantId))
            throw TrialRuleException.Invalid("participant_id", "participant_id is only given for a one-participant unblinding.");
        return new UnblindingRequest
        {
            RequestId = requestId,
            Scope = s,
            ParticipantId = s == UnblindingScope.Participant ? participantId : null,
            Reason = trimmedReason,
            RequestedBy = requestedBy,
            RequestedAt = at,
        };
    }

    /// <summary>Approval by a second statistician: never the requester, and only once.</summary>
    public void Approve(string approver, string reason, DateTimeOffset at, TimeSpan lifetime)
    {
        var trimmedReason = Reasons.Require(reason);
        if (RequestedBy == approver)
            throw new TrialRuleException(RefusalReason.SecondStatisticianRequired, "You made this request; a different statistician must approve it.");
        if (ApprovedAt is not null)
            throw new TrialRuleException(RefusalReason.UnblindingAlreadyApproved, $"Request {RequestId} was already approved by {ApprovedBy}.");
        ApprovedBy = approver;
        ApprovedAt = at;
        ApprovalReason = trimmedReason;
        ExpiresAt = at + lifetime;
    }

    public UnblindingStatus StatusAt(DateTimeOffset now) =>
        ApprovedAt is null ? UnblindingStatus.Pending
        : ExpiresAt <= now ? UnblindingStatus.Expired
        : UnblindingStatus.Approved;

    /// <summary>Refuses to reveal anything unless the request is approved and the approval has not expired.</summary>
    public void EnsureReadableAt(DateTimeOffset now)
    {
        switch (StatusAt(now))
        {
            case UnblindingStatus.Pending:
                throw new TrialRuleException(RefusalReason.UnblindingNotApproved, $"Request {RequestId} awaits approval by a second statistician.");
            case UnblindingStatus.Expired:
                throw new TrialRuleException(RefusalReason.UnblindingApprovalExpired, $"The approval of request {RequestId} expired at {ExpiresAt:u}; make a new request.");
        }
    }

    /// <summary>Whether this request reveals counts only, never who is in which arm.</summary>
    public bool RevealsCountsOnly => Scope == UnblindingScope.DsmbAggregate;

    /// <summary>An approved final unblinding: randomization is closed for good from its approval.</summary>
    public bool ClosesRandomization => Scope == UnblindingScope.Final && ApprovedAt is not null;

    /// <summary>What the audit trail says of the request's scope (never an arm).</summary>
    public string Describe() => Scope == UnblindingScope.Participant ? $"scope participant {ParticipantId}" : $"scope {Scope}";
}
