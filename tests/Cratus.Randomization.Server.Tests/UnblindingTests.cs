using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

public abstract class UnblindingTests : OnEachDatabase
{
    private static readonly (string, string)[] TwoSites =
    [
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"),
    ];

    private static UnblindingService.UnblindingServiceClient Unblinding(TrialServer server, TrialRole role, string subject = "user", params string[] sites) =>
        new(server.Channel(server.Token(role, subject, sites)));

    private async Task<(TrialServer Server, List<BlindedAssignment> Participants)> RandomizedAsync(int count)
    {
        var server = NewServer(TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var participants = new List<BlindedAssignment>();
        for (var i = 0; i < count; i++)
            participants.Add((await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}", i % 2 == 0 ? Sex.Female : Sex.Male))).Assignment);
        return (server, participants);
    }

    private static async Task<string> ArmOf(TrialServer server, string participantId) =>
        (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId })).ArmCode;

    [ProviderFact]
    public async Task EmergencyUnblind_InvestigatorAtTheSite_RevealsThatParticipantOnlyAndIsAudited()
    {
        var (server, participants) = await RandomizedAsync(3);
        await using var _ = server;
        var investigator = Unblinding(server, TrialRole.Investigator, "dr-jones", "UM");

        var reply = await investigator.EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = participants[1].ParticipantId, Reason = "anaphylaxis, treating physician needs to know" });

        Assert.Equal(await ArmOf(server, participants[1].ParticipantId), reply.Treatment.ArmCode);
        Assert.True(reply.Assignment.EmergencyUnblinded);
        Assert.Equal(participants[1].ParticipantId, reply.Assignment.ParticipantId);
        var marked = await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = participants[1].ParticipantId });
        var unmarked = await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = participants[0].ParticipantId });
        Assert.True(marked.Assignment.EmergencyUnblinded);
        Assert.False(unmarked.Assignment.EmergencyUnblinded);
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unblinding.emergency" })).Events;
        var e = Assert.Single(events);
        Assert.Equal("dr-jones", e.User);
        Assert.Equal("investigator", e.Role);
        Assert.Equal(participants[1].ParticipantId, e.Target);
        Assert.Equal("anaphylaxis, treating physician needs to know", e.Reason);
        // The arm is not in the record (the signature's manifestation is; its "UTC" is not an arm code).
        Assert.DoesNotContain(reply.Treatment.ArmCode, (e.Details + e.Target.Replace(participants[1].ParticipantId, "", StringComparison.Ordinal)).Replace(" UTC", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task EmergencyUnblind_OtherSiteWrongRoleOrNoReason_IsRefused()
    {
        var (server, participants) = await RandomizedAsync(1);
        await using var _ = server;
        var id = participants[0].ParticipantId;

        var otherSite = await Assert.ThrowsAsync<RpcException>(() => Unblinding(server, TrialRole.Investigator, "dr-x", "JH")
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = id, Reason = "x" }).ResponseAsync);
        var coordinator = await Assert.ThrowsAsync<RpcException>(() => Unblinding(server, TrialRole.SiteCoordinator, "coord", "UM")
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = id, Reason = "x" }).ResponseAsync);
        var noReason = await Assert.ThrowsAsync<RpcException>(() => Unblinding(server, TrialRole.Investigator, "dr-jones", "UM")
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = id }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, otherSite.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, coordinator.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, noReason.StatusCode);
    }

    [ProviderFact]
    public async Task ControlledUnblinding_OneParticipant_NeedsASecondStatisticianAndExpires()
    {
        var (server, participants) = await RandomizedAsync(2);
        await using var _ = server;
        var first = Unblinding(server, TrialRole.Statistician, "stat-1");
        var second = Unblinding(server, TrialRole.Statistician, "stat-2");
        var request = (await first.RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.Participant, ParticipantId = participants[0].ParticipantId, Reason = "SAE narrative for the regulator",
        })).Request;

        var beforeApproval = await Assert.ThrowsAsync<RpcException>(() => first.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId }).ResponseAsync);
        var selfApproval = await Assert.ThrowsAsync<RpcException>(() => first.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "ok" }).ResponseAsync);
        var approved = (await second.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "justified" })).Request;
        var revealed = await first.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId });
        server.Clock.Advance(TimeSpan.FromDays(3) + TimeSpan.FromMinutes(1));
        first = Unblinding(server, TrialRole.Statistician, "stat-1"); // a fresh token: the old one expired with the clock
        var expired = await Assert.ThrowsAsync<RpcException>(() => first.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, beforeApproval.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, selfApproval.StatusCode);
        Assert.Equal(UnblindingRequestStatus.Approved, approved.Status);
        Assert.Equal("stat-2", approved.ApprovedBy);
        var allocation = Assert.Single(revealed.Allocations);
        Assert.Equal(participants[0].ParticipantId, allocation.Assignment.ParticipantId);
        Assert.Equal(await ArmOf(server, participants[0].ParticipantId), allocation.Treatment.ArmCode);
        Assert.Equal(StatusCode.FailedPrecondition, expired.StatusCode);
        Assert.Contains("expired", expired.Status.Detail, StringComparison.Ordinal);
        var actions = (await server.As(TrialRole.Statistician).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Target = request.UnblindingId })).Events;
        Assert.Equal(["unblinding.requested", "unblinding.approved", "unblinding.allocations_read"], actions.Select(a => a.Action));
        Assert.Equal(["stat-1", "stat-2", "stat-1"], actions.Select(a => a.User));
    }

    [ProviderFact]
    public async Task ControlledUnblinding_DsmbAggregate_GivesCountsByArmToTheDsmbAndNoParticipants()
    {
        var (server, participants) = await RandomizedAsync(6);
        await using var _ = server;
        var request = (await Unblinding(server, TrialRole.Statistician, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.DsmbAggregate, Reason = "DSMB meeting 2",
        })).Request;
        await Unblinding(server, TrialRole.Statistician, "stat-2").ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "scheduled review" });
        var dsmb = Unblinding(server, TrialRole.DsmbMember, "dsmb-chair");

        var listed = await dsmb.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest());
        var revealed = await dsmb.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId });

        Assert.Single(listed.Requests);
        Assert.Empty(revealed.Allocations);
        Assert.Equal(6, revealed.ArmCounts.Sum(c => c.Participants));
        var arms = new List<string>();
        foreach (var p in participants) arms.Add(await ArmOf(server, p.ParticipantId));
        foreach (var count in revealed.ArmCounts)
            Assert.Equal(arms.Count(a => a == count.Treatment.ArmCode), count.Participants);
    }

    [ProviderFact]
    public async Task ControlledUnblinding_FinalApproved_ClosesRandomizationForGoodAndTheDsmbCannotReadIt()
    {
        var (server, _) = await RandomizedAsync(3);
        await using var __ = server;
        var request = (await Unblinding(server, TrialRole.Statistician, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.Final, Reason = "database lock",
        })).Request;

        await server.Site().RandomizeAsync(Requests.Randomize("SCR-BEFORE-APPROVAL"));
        await Unblinding(server, TrialRole.Statistician, "stat-2").ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "locked" });
        var all = await Unblinding(server, TrialRole.Statistician, "stat-2").GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId });
        var closed = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-AFTER")).ResponseAsync);
        server.Clock.Advance(TimeSpan.FromDays(30));
        var stillClosed = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-LATER")).ResponseAsync);
        var dsmb = await Assert.ThrowsAsync<RpcException>(() => Unblinding(server, TrialRole.DsmbMember, "dsmb")
            .GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId }).ResponseAsync);

        Assert.Equal(4, all.Allocations.Count);
        Assert.Equal(StatusCode.FailedPrecondition, closed.StatusCode);
        Assert.Contains("closed for good", closed.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, stillClosed.StatusCode);
        Assert.Equal(StatusCode.NotFound, dsmb.StatusCode);
    }

    [ProviderFact]
    public async Task RequestUnblinding_UnspecifiedScope_IsInvalidArgument()
    {
        var (server, _) = await RandomizedAsync(0);
        await using var __ = server;

        var error = await Assert.ThrowsAsync<RpcException>(() => Unblinding(server, TrialRole.Statistician)
            .RequestUnblindingAsync(new RequestUnblindingRequest { Reason = "x" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }
}

public sealed class UnblindingTestsOnSqlite : UnblindingTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class UnblindingTestsOnPostgreSql : UnblindingTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class UnblindingTestsOnSqlServer : UnblindingTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
