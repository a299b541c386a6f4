using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The object-level half of "who sees what": a site user reaching for another site's participant, in either phase,
/// through every operation that names one, hears NOT_FOUND, word for word as for a participant that does not exist.
/// </summary>
public abstract class SiteScopeTests : OnEachDatabase
{
    private const string TwoSites = "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }";

    [ProviderFact]
    public async Task SiteUser_AnotherSitesParticipant_IsNotFound_LikeOneThatDoesNotExist()
    {
        await using var server = NewServer(("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }", TwoSites));
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "site scope" });
        var randomized = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-UM"))).Assignment.ParticipantId;
        var enrolled = (await new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"))
            .EnrollInCohortAsync(new EnrollInCohortRequest { SiteCode = "UM", ScreeningId = "PH1-UM", Eligibility = Requests.Eligible() })).Assignment.ParticipantId;

        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator })
        {
            var channel = server.Channel(role, "JH");
            var randomization = new RandomizationService.RandomizationServiceClient(channel);
            var participants = new ParticipantService.ParticipantServiceClient(channel);
            var calls = new List<(string Operation, Func<string, Task> Call, string Participant)>
            {
                ("GetAssignment", id => randomization.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = id }).ResponseAsync, randomized),
            };
            // Both phases' participants, through the one ParticipantService.
            foreach (var target in new[] { enrolled, randomized })
            {
                calls.Add(("GetParticipant", id => participants.GetParticipantAsync(new GetParticipantRequest { ParticipantId = id }).ResponseAsync, target));
                calls.Add(("RecordInfusion", id => participants.RecordInfusionAsync(new RecordInfusionRequest { ParticipantId = id, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) }).ResponseAsync, target));
                calls.Add(("ReportSafetyEvent", id => participants.ReportSafetyEventAsync(new ReportSafetyEventRequest
                {
                    ParticipantId = id, Type = SafetyEventType.Stroke, Serious = true,
                    OnsetDate = new CalendarDate { Year = TrialServer.Now.Year, Month = TrialServer.Now.Month, Day = TrialServer.Now.Day },
                }).ResponseAsync, target));
                calls.Add(("RecordWithdrawal", id => participants.RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = id, Reason = "moved away" }).ResponseAsync, target));
            }
            if (role == TrialRole.Investigator)
                calls.Add(("MarkRandomizedInError", id => participants.MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
                    { ParticipantId = id, Type = RandomizedInErrorType.WrongStratum, CorrectSex = Sex.Male, Reason = "recorded female, is male" }).ResponseAsync, randomized));
            if (role == TrialRole.Investigator)
                calls.Add(("EmergencyUnblind", id => new UnblindingService.UnblindingServiceClient(channel)
                    .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = id, Reason = "allergic reaction" }).ResponseAsync, randomized));

            foreach (var (operation, call, participant) in calls)
            {
                var otherSite = await Assert.ThrowsAsync<RpcException>(() => call(participant));
                var missing = await Assert.ThrowsAsync<RpcException>(() => call("P-0000000000"));
                Assert.True(otherSite.StatusCode == StatusCode.NotFound, $"{role} {operation}: {otherSite.StatusCode}");
                Assert.Equal(missing.Status.Detail.Replace("P-0000000000", participant, StringComparison.Ordinal), otherSite.Status.Detail);
            }
        }

        // Nothing was changed by the refused calls: the UM participant is neither infused, withdrawn nor unblinded.
        var status = (await new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.Monitor)).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        Assert.Equal((1, 0, 0), (status.Cohorts[0].Enrolled, status.Cohorts[0].Infused, status.Cohorts[0].Withdrawn));
        Assert.Empty(status.SafetyEvents);
        Assert.False((await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = randomized })).Assignment.EmergencyUnblinded);
        var phaseTwo = (await server.As(TrialRole.SiteCoordinator, "UM").Participants.GetParticipantAsync(new GetParticipantRequest { ParticipantId = randomized })).Participant;
        Assert.Equal((ParticipantStatus.Randomized, RandomizedInErrorType.Unspecified), (phaseTwo.Summary.Status, phaseTwo.Summary.RandomizedInErrorType));
        Assert.Empty((await server.As(TrialRole.Monitor).Participants.ListSafetyEventsAsync(new ListSafetyEventsRequest())).Events);
        // A listing of another site's participants shows nothing, as if the site had no one.
        var listed = await server.As(TrialRole.SiteCoordinator, "JH").Participants.ListParticipantsAsync(new ListParticipantsRequest { SiteCode = "UM" });
        Assert.Equal(0, listed.TotalSize);
        Assert.Empty(listed.Participants);
        Assert.Equal(2, (await server.As(TrialRole.SiteCoordinator, "UM").Participants.ListParticipantsAsync(new ListParticipantsRequest())).TotalSize);
    }
}

public sealed class SiteScopeTestsOnSqlite : SiteScopeTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class SiteScopeTestsOnPostgreSql : SiteScopeTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class SiteScopeTestsOnSqlServer : SiteScopeTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
