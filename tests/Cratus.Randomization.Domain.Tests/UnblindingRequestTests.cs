namespace Cratus.Randomization.Domain.Tests;

/// <summary>The controlled unblinding's life: requested, approved by another statistician, readable until it expires.</summary>
public sealed class UnblindingRequestTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static UnblindingRequest Final() => UnblindingRequest.Request("U-1", UnblindingScope.Final, null, "end of trial", "statistician", At);

    [Fact]
    public void Request_ThenApprovalByAnother_IsReadableUntilItExpires()
    {
        var request = Final();
        Assert.Equal(UnblindingStatus.Pending, request.StatusAt(At));
        Assert.Equal(RefusalReason.UnblindingNotApproved, Assert.Throws<TrialRuleException>(() => request.EnsureReadableAt(At)).Reason);
        Assert.False(request.ClosesRandomization);

        request.Approve("statistician2", "agreed", At.AddHours(1), TimeSpan.FromDays(3));

        Assert.Equal(UnblindingStatus.Approved, request.StatusAt(At.AddDays(2)));
        request.EnsureReadableAt(At.AddDays(2));
        Assert.True(request.ClosesRandomization);
        Assert.Equal(UnblindingStatus.Expired, request.StatusAt(At.AddHours(1).AddDays(3)));
        Assert.Equal(RefusalReason.UnblindingApprovalExpired, Assert.Throws<TrialRuleException>(() => request.EnsureReadableAt(At.AddDays(4))).Reason);
    }

    [Fact]
    public void Approve_ByTheRequester_OrTwice_IsRefused()
    {
        var request = Final();

        Assert.Equal(RefusalReason.SecondStatisticianRequired, Assert.Throws<TrialRuleException>(() => request.Approve("statistician", "mine", At, TimeSpan.FromDays(1))).Reason);
        request.Approve("statistician2", "agreed", At, TimeSpan.FromDays(1));
        Assert.Equal(RefusalReason.UnblindingAlreadyApproved, Assert.Throws<TrialRuleException>(() => request.Approve("statistician3", "again", At, TimeSpan.FromDays(1))).Reason);
        Assert.Equal("statistician2", request.ApprovedBy);
    }

    [Theory]
    [InlineData(UnblindingScope.Participant, null, "participant_id")]
    [InlineData(UnblindingScope.DsmbAggregate, "P-1", "participant_id")]
    [InlineData(null, null, "scope")]
    public void Request_ScopeAndParticipantMustAgree(UnblindingScope? scope, string? participantId, string field)
    {
        var refusal = Assert.Throws<TrialRuleException>(() => UnblindingRequest.Request("U-2", scope, participantId, "why", "statistician", At));

        Assert.Equal(field, Assert.Single(refusal.Fields).Field);
    }

    [Fact]
    public void DsmbAggregate_RevealsCountsOnly_AndNeverClosesRandomization()
    {
        var aggregate = UnblindingRequest.Request("U-3", UnblindingScope.DsmbAggregate, null, "interim", "statistician", At);
        aggregate.Approve("statistician2", "agreed", At, TimeSpan.FromDays(1));

        Assert.True(aggregate.RevealsCountsOnly);
        Assert.False(aggregate.ClosesRandomization);
        Assert.Equal("scope DsmbAggregate", aggregate.Describe());
    }
}
