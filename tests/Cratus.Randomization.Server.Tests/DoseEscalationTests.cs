using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>Phase I scenarios through real gRPC calls, with the server's clock driven day by day.</summary>
public abstract class DoseEscalationTests : OnEachDatabase
{
    private static DoseEscalationService.DoseEscalationServiceClient Escalation(TrialServer server, TrialRole role = TrialRole.SiteCoordinator, string site = "UM") =>
        new(server.Channel(role, site));

    private static ParticipantService.ParticipantServiceClient Participants(TrialServer server, TrialRole role = TrialRole.SiteCoordinator, string site = "UM") =>
        new(server.Channel(role, site));

    private static EnrollInCohortRequest Enrol(string screeningId) => new()
    {
        RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = screeningId, Eligibility = Requests.Eligible(),
    };

    private static async Task<CohortAssignment> EnrolAndInfuseAsync(TrialServer server, string screeningId)
    {
        var site = Escalation(server);
        var assignment = (await site.EnrollInCohortAsync(Enrol(screeningId))).Assignment;
        await ProductPath.InfuseAsync(server, assignment.ParticipantId);
        return assignment;
    }

    private static Task<RecordDsmbDecisionResponse> DecideAsync(TrialServer server, DsmbDecisionKind decision, string reason = "safety review") =>
        Escalation(server, TrialRole.DsmbMember).RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest { Decision = decision, Reason = reason }).ResponseAsync;

    [ProviderFact]
    public async Task HappyPath_FifteenParticipantsThreeCohortsThreeDecisions_ThenPhaseTwoOpens()
    {
        await using var server = NewServerWithPhaseOne();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var tooEarly = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("R-001")).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, tooEarly.StatusCode);
        Assert.Contains("randomized phase is not open", tooEarly.Status.Detail, StringComparison.Ordinal);

        var doses = new List<long>();
        // Phase I is open label while it runs: the sites see the doses.
        var duringPhaseOne = (await Escalation(server).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        Assert.Equal("20 million allo-hMSCs", duringPhaseOne.Cohorts[0].Dose);
        for (var cohort = 1; cohort <= 3; cohort++)
        {
            for (var i = 0; i < 5; i++)
            {
                var assignment = await EnrolAndInfuseAsync(server, $"C{cohort}-{i}");
                Assert.Equal(cohort, assignment.Cohort);
                doses.Add(assignment.CellCount);
                server.Clock.Advance(TimeSpan.FromDays(1));
            }
            var full = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol($"C{cohort}-extra")).ResponseAsync);
            Assert.Contains("is full", full.Status.Detail, StringComparison.Ordinal);
            server.Clock.Advance(TimeSpan.FromDays(30));
            var status = await DecideAsync(server, cohort < 3 ? DsmbDecisionKind.Escalate : DsmbDecisionKind.ProceedToRandomizedPhase, $"cohort {cohort} reviewed");
            Assert.Equal(cohort < 3 ? cohort + 1 : 3, status.Status.CurrentCohort);
        }

        var randomized = await server.Site().RandomizeAsync(Requests.Randomize("R-001"));
        var enrolAfterPhaseOne = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("C4-0")).ResponseAsync);
        Assert.Equal("DOSE_ESCALATION_COMPLETE", enrolAfterPhaseOne.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = randomized.Assignment.ParticipantId });
        var final = (await Escalation(server, TrialRole.Monitor).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;

        Assert.Equal([.. Enumerable.Repeat(20_000_000L, 5), .. Enumerable.Repeat(100_000_000L, 5), .. Enumerable.Repeat(200_000_000L, 5)], doses);
        Assert.Equal("R01-001", randomized.Assignment.RandomizationNumber);
        Assert.Equal(0, order.Cohort);
        Assert.True(final.RandomizedPhaseOpen);
        Assert.All(final.Cohorts, c => Assert.Equal("complete", c.Status));
        // Once the randomized phase has begun, Phase I's doses are the arms' doses: the blinded see cohorts by number
        // only, in the texts too; the DSMB still sees them.
        Assert.All(final.Cohorts, c => Assert.Equal(("", 0L), (c.Dose, c.CellCount)));
        Assert.DoesNotContain("million", final.ToString(), StringComparison.Ordinal);
        var dsmb = (await Escalation(server, TrialRole.DsmbMember).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        Assert.Equal(["20 million allo-hMSCs", "100 million allo-hMSCs", "200 million allo-hMSCs"], dsmb.Cohorts.Select(c => c.Dose));
        Assert.Equal(3, final.Decisions.Count);
        var audit = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dsmb.decision" })).Events;
        Assert.Equal(["Escalate", "Escalate", "ProceedToRandomizedPhase"], audit.Select(e => e.Details.Split(';')[0]));
        Assert.All(audit, e => Assert.Equal(SignedAction.DsmbDecision, e.Signature.Action));
        Assert.Equal(["1", "2", "3"], audit.Select(e => e.Signature.RecordId));
    }

    [ProviderFact]
    public async Task TreatmentEmergentSeriousEventOnDay12_HoldsEnrolmentUntilTheDsmbDecides()
    {
        await using var server = NewServerWithPhaseOne();
        var first = await EnrolAndInfuseAsync(server, "P1");
        for (var i = 2; i <= 4; i++) await EnrolAndInfuseAsync(server, $"P{i}");
        server.Clock.Advance(TimeSpan.FromDays(12));

        var report = await Participants(server).ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = first.ParticipantId, Type = SafetyEventType.Stroke, Serious = true,
            OnsetDate = new CalendarDate { Year = 2026, Month = 12, Day = 4 },
        });
        var held = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("P5")).ResponseAsync);
        var status = (await Escalation(server, TrialRole.Monitor).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        var siteCannotDecide = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).RecordDsmbDecisionAsync(
            new RecordDsmbDecisionRequest { Decision = DsmbDecisionKind.Continue, Reason = "we think it is fine" }).ResponseAsync);
        await DecideAsync(server, DsmbDecisionKind.Continue, "stroke judged unrelated; continue cohort 1");
        var fifth = await Escalation(server).EnrollInCohortAsync(Enrol("P5"));
        var sixth = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("P6")).ResponseAsync);

        Assert.True(report.TreatmentEmergent);
        Assert.True(report.EnrolmentOnHold);
        Assert.Equal(StatusCode.FailedPrecondition, held.StatusCode);
        Assert.Contains("on hold", held.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("stroke", held.Status.Detail, StringComparison.Ordinal);
        Assert.True(status.OnHold);
        Assert.False(status.EnrolmentOpen);
        Assert.Contains(status.Blocking, b => b.Contains("DSMB must record a decision", StringComparison.Ordinal));
        Assert.Equal(StatusCode.PermissionDenied, siteCannotDecide.StatusCode);
        Assert.Equal(1, fifth.Assignment.Cohort);
        Assert.Contains("is full", sixth.Status.Detail, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task SeriousEventOutsideTheWindowOrNotATeSae_DoesNotHold()
    {
        await using var server = NewServerWithPhaseOne();
        var first = await EnrolAndInfuseAsync(server, "P1");
        server.Clock.Advance(TimeSpan.FromDays(40));

        var late = await Participants(server).ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = first.ParticipantId, Type = SafetyEventType.Death, Serious = true, OnsetDate = new CalendarDate { Year = 2026, Month = 12, Day = 30 },
        });
        var other = await Participants(server).ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = first.ParticipantId, Type = SafetyEventType.OtherSeriousAdverseEvent, Serious = true, OnsetDate = new CalendarDate { Year = 2026, Month = 11, Day = 25 },
        });
        var next = await Escalation(server).EnrollInCohortAsync(Enrol("P2"));

        Assert.False(late.TreatmentEmergent);
        Assert.False(other.TreatmentEmergent);
        Assert.Equal(1, next.Assignment.Cohort);
    }

    [ProviderFact]
    public async Task Escalate_BeforeTheLastWindowCloses_IsRefusedWithTheDate()
    {
        await using var server = NewServerWithPhaseOne();
        for (var i = 0; i < 5; i++)
        {
            await EnrolAndInfuseAsync(server, $"P{i}");
            server.Clock.Advance(TimeSpan.FromDays(2));
        }
        server.Clock.Advance(TimeSpan.FromDays(25)); // the first windows have closed, the last has not

        var refused = await Assert.ThrowsAsync<RpcException>(() => DecideAsync(server, DsmbDecisionKind.Escalate));
        var proceed = await Assert.ThrowsAsync<RpcException>(() => DecideAsync(server, DsmbDecisionKind.ProceedToRandomizedPhase));
        var status = (await Escalation(server, TrialRole.Monitor).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        server.Clock.Advance(TimeSpan.FromDays(4));
        var escalated = await DecideAsync(server, DsmbDecisionKind.Escalate);

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("safety windows have not all closed", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Phase I is not complete", proceed.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Before escalation to cohort 2", status.NextStep, StringComparison.Ordinal);
        Assert.Equal(2, escalated.Status.CurrentCohort);
        Assert.Equal("open", escalated.Status.Cohorts[1].Status);
    }

    [ProviderFact]
    public async Task TenConcurrentEnrolments_NeverFillACohortBeyondFive()
    {
        await using var server = NewServerWithPhaseOne();
        var site = Escalation(server);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            try
            {
                return (await site.EnrollInCohortAsync(Enrol($"Q{i}"))).Assignment.Cohort;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
            {
                return 0;
            }
        }));

        Assert.Equal(5, outcomes.Count(c => c == 1));
        Assert.Equal(5, outcomes.Count(c => c == 0));
        var status = (await Escalation(server, TrialRole.Monitor).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        Assert.Equal(5, status.Cohorts[0].Enrolled);
    }

    [ProviderFact]
    public async Task Withdrawal_BeforeInfusionFreesThePlace_AfterInfusionNever()
    {
        await using var server = NewServerWithPhaseOne();
        var site = Escalation(server);
        var infused = await EnrolAndInfuseAsync(server, "P1");
        var notInfused = (await site.EnrollInCohortAsync(Enrol("P2"))).Assignment;
        for (var i = 3; i <= 5; i++) await EnrolAndInfuseAsync(server, $"P{i}");

        var freed = await Participants(server).RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = notInfused.ParticipantId, Reason = "changed their mind" });
        var kept = await Participants(server).RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = infused.ParticipantId, Reason = "moved away" });
        var replacement = await site.EnrollInCohortAsync(Enrol("P6"));
        var noMore = await Assert.ThrowsAsync<RpcException>(() => site.EnrollInCohortAsync(Enrol("P7")).ResponseAsync);
        var infuseWithdrawn = await Assert.ThrowsAsync<RpcException>(() => Participants(server).RecordInfusionAsync(new RecordInfusionRequest
        {
            ParticipantId = notInfused.ParticipantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()),
        }).ResponseAsync);

        Assert.True(freed.PlaceFreed);
        Assert.False(kept.PlaceFreed);
        Assert.Equal(1, replacement.Assignment.Cohort);
        Assert.Contains("is full", noMore.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, infuseWithdrawn.StatusCode);
        var status = (await Escalation(server, TrialRole.Monitor).GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        Assert.Equal(5, status.Cohorts[0].Enrolled);
        Assert.Equal(2, status.Cohorts[0].Withdrawn);
    }

    [ProviderFact]
    public async Task SentinelInterval_WhenConfigured_MakesTheNextParticipantsWait()
    {
        await using var server = NewServerWithPhaseOne(("\"sentinelIntervalDays\": 0", "\"sentinelIntervalDays\": 7"));
        var site = Escalation(server);
        var sentinel = (await site.EnrollInCohortAsync(Enrol("S1"))).Assignment;

        var beforeInfusion = await Assert.ThrowsAsync<RpcException>(() => site.EnrollInCohortAsync(Enrol("S2")).ResponseAsync);
        await ProductPath.InfuseAsync(server, sentinel.ParticipantId);
        server.Clock.Advance(TimeSpan.FromDays(6));
        var tooSoon = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("S2")).ResponseAsync);
        server.Clock.Advance(TimeSpan.FromDays(1));
        var second = await Escalation(server).EnrollInCohortAsync(Enrol("S2"));

        Assert.Contains("sentinel participant has not been infused", beforeInfusion.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("sentinel interval", tooSoon.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, second.Assignment.Cohort);
    }

    [ProviderFact]
    public async Task Stop_RefusesEveryEnrolmentRandomizationAndLaterDecision()
    {
        await using var server = NewServerWithPhaseOne();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        await EnrolAndInfuseAsync(server, "P1");

        await DecideAsync(server, DsmbDecisionKind.Stop, "unacceptable risk");
        var enrol = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("P2")).ResponseAsync);
        var randomize = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("R1")).ResponseAsync);
        var decide = await Assert.ThrowsAsync<RpcException>(() => DecideAsync(server, DsmbDecisionKind.Continue));

        Assert.Contains("stopped", enrol.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("stopped", randomize.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, decide.StatusCode);
    }

    [ProviderFact]
    public async Task PhaseOneParticipant_DoseOrderAndPhaseTwoRandomization_AreHandledAsOnePerson()
    {
        await using var server = NewServerWithPhaseOne();
        var assignment = await EnrolAndInfuseAsync(server, "P1");

        var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = assignment.ParticipantId });
        var again = await Assert.ThrowsAsync<RpcException>(() => Escalation(server).EnrollInCohortAsync(Enrol("P1")).ResponseAsync);

        Assert.Equal(1, order.Cohort);
        Assert.Equal(20_000_000, order.CellCount);
        Assert.Empty(order.ArmCode);
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
    }

    [ProviderFact]
    public async Task OtherSitesParticipant_IsNotFoundForInfusionAndSafetyReports()
    {
        await using var server = NewServerWithPhaseOne(
            ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
             "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"));
        var assignment = (await Escalation(server).EnrollInCohortAsync(Enrol("P1"))).Assignment;

        var infusion = await Assert.ThrowsAsync<RpcException>(() => Participants(server, TrialRole.SiteCoordinator, "JH").RecordInfusionAsync(new RecordInfusionRequest
        {
            ParticipantId = assignment.ParticipantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()),
        }).ResponseAsync);
        await ProductPath.VerifiedAtBedsideAsync(server, assignment.ParticipantId);
        var pharmacist = await server.As(TrialRole.Pharmacist).Participants.RecordInfusionAsync(new RecordInfusionRequest
        {
            ParticipantId = assignment.ParticipantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()),
        });

        Assert.Equal(StatusCode.NotFound, infusion.StatusCode);
        Assert.Equal(server.Clock.GetUtcNow().AddDays(30), pharmacist.SafetyWindowClosesAt.ToDateTimeOffset());
    }
}

public sealed class DoseEscalationTestsOnSqlite : DoseEscalationTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class DoseEscalationTestsOnPostgreSql : DoseEscalationTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class DoseEscalationTestsOnSqlServer : DoseEscalationTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
