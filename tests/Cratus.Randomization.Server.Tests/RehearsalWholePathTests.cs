using System.Diagnostics;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit.Abstractions;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The whole trial rehearsed through gRPC on a UAT server, on its own trial clock (the real time, moved forward only by
/// AdvanceTrialClock, never the tests' fake clock): three Phase I cohorts with their infusions, 30-day windows and DSMB
/// decisions; the schedule and 30 Phase II randomizations; the pharmacy's dose orders; an emergency and a controlled
/// (two-person) unblinding, and the approval's expiry. The issue asks for it to run in under a minute; the duration is
/// printed (README, "Rehearsal: UAT and training").
/// </summary>
[Trait("Category", "Slow")]
public sealed class RehearsalWholePathTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WholeTrial_InUat_IsRehearsedThroughGrpcWithTheTrialClockMovedForward()
    {
        var watch = Stopwatch.StartNew();
        await using var server = new TrialServer(TestDatabase.Sqlite, onLoopback: false, new Dictionary<string, string>
        {
            ["Trial:Mode"] = "Uat",
            ["Rehearsal:ClockControl"] = "true",
            [TrialServer.ClockSetting] = TrialServer.RealTrialClock,
        }, ("", "")); // the shipped definition: Phase I first
        var administrator = server.As(server.Token(TrialRole.Administrator, "uat-admin")).Rehearsal;
        var site = server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation;
        var siteRecords = server.As(TrialRole.SiteCoordinator, "UM").Participants;
        var dsmb = server.As(TrialRole.DsmbMember).DoseEscalation;
        async Task<Timestamp> TrialNowAsync() => (await administrator.GetTrialClockAsync(new GetTrialClockRequest())).Clock.TrialTime;
        async Task MoveAsync(TimeSpan by, string reason) => await administrator.AdvanceTrialClockAsync(
            new AdvanceTrialClockRequest { AdvanceBy = Duration.FromTimeSpan(by), Reason = reason });

        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "UAT: the Phase II schedule" });

        // Phase I: three cohorts of five, each infused, its 30-day window passed on the trial clock, then the DSMB.
        for (var cohort = 1; cohort <= 3; cohort++)
        {
            for (var i = 0; i < 5; i++)
            {
                var assignment = (await site.EnrollInCohortAsync(new EnrollInCohortRequest
                {
                    SiteCode = "UM", ScreeningId = $"UAT-C{cohort}-{i}", Eligibility = Requests.Eligible(i % 2 == 0 ? Sex.Female : Sex.Male),
                })).Assignment;
                Assert.Equal(cohort, assignment.Cohort);
                var now = await TrialNowAsync();
                await ProductPath.VerifiedAtBedsideAsync(server, assignment.ParticipantId, startedAt: now.ToDateTimeOffset().AddMinutes(-30));
                await siteRecords.RecordInfusionAsync(new RecordInfusionRequest { ParticipantId = assignment.ParticipantId, InfusedAt = now });
            }
            var tooSoon = await Assert.ThrowsAsync<RpcException>(() => dsmb.RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            {
                Decision = DsmbDecisionKind.Escalate, Reason = "before the window closed",
            }).ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, tooSoon.StatusCode);
            await MoveAsync(TimeSpan.FromDays(30) + TimeSpan.FromMinutes(1), $"UAT: pass cohort {cohort}'s 30-day window");
            var decided = await dsmb.RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            {
                Decision = cohort < 3 ? DsmbDecisionKind.Escalate : DsmbDecisionKind.ProceedToRandomizedPhase, Reason = $"cohort {cohort} reviewed",
            });
            Assert.Equal(cohort < 3 ? cohort + 1 : 3, decided.Status.CurrentCohort);
        }
        var phaseOne = watch.Elapsed;

        // Phase II: 30 randomizations, the pharmacy reads each dose order.
        var participants = new List<BlindedAssignment>();
        for (var i = 0; i < 30; i++)
            participants.Add((await server.Site().RandomizeAsync(Requests.Randomize($"UAT-R{i:00}", i % 5 < 3 ? Sex.Male : Sex.Female))).Assignment);
        var pharmacy = server.Pharmacy();
        var arms = new Dictionary<string, string>();
        foreach (var participant in participants)
            arms[participant.ParticipantId] = (await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participant.ParticipantId })).ArmCode;
        var full = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("UAT-R30")).ResponseAsync);

        // An emergency unblinding by the investigator at the site.
        var emergency = await server.As(server.Token(TrialRole.Investigator, "uat-investigator", ["UM"])).Unblinding.EmergencyUnblindAsync(
            new EmergencyUnblindRequest { ParticipantId = participants[3].ParticipantId, Reason = "UAT: anaphylaxis drill" });

        // A controlled unblinding: one statistician asks, a second approves, the approval expires on the trial clock.
        var first = server.As(server.Token(TrialRole.Statistician, "uat-stat-1")).Unblinding;
        var second = server.As(server.Token(TrialRole.Statistician, "uat-stat-2")).Unblinding;
        var request = (await first.RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.Participant, ParticipantId = participants[7].ParticipantId, Reason = "UAT: SAE narrative drill",
        })).Request;
        await second.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "UAT: justified" });
        var revealed = await first.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId });
        await MoveAsync(TimeSpan.FromDays(4), "UAT: let the approval expire");
        var expired = await Assert.ThrowsAsync<RpcException>(() => first.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = request.UnblindingId }).ResponseAsync);

        var monitor = server.As(TrialRole.Monitor).Audit;
        var allocations = await monitor.VerifyAllocationsAsync(new VerifyAllocationsRequest());
        var trail = await monitor.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var moves = (await monitor.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "trial_clock.advanced" })).Events;
        var clock = (await administrator.GetTrialClockAsync(new GetTrialClockRequest())).Clock;
        watch.Stop();
        output.WriteLine($"UAT whole path through gRPC: {watch.Elapsed.TotalSeconds:0.0} s (Phase I {phaseOne.TotalSeconds:0.0} s); trial clock {clock.Offset.ToTimeSpan():c} ahead");

        Assert.Equal("TRIAL_TARGET_REACHED", full.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(30, arms.Count);
        Assert.All(arms.Values, arm => Assert.Contains(arm, new[] { "A", "B", "C" }));
        Assert.Equal(arms[participants[3].ParticipantId], emergency.Treatment.ArmCode);
        Assert.Equal(arms[participants[7].ParticipantId], Assert.Single(revealed.Allocations).Treatment.ArmCode);
        Assert.Equal(StatusCode.FailedPrecondition, expired.StatusCode);
        Assert.Contains("expired", expired.Status.Detail, StringComparison.Ordinal);
        Assert.True(allocations.Intact);
        Assert.Equal(30, allocations.ParticipantsChecked);
        Assert.Equal(15, allocations.CohortEnrolmentsChecked);
        Assert.True(trail.Intact);
        Assert.Equal(4, moves.Count);
        Assert.Equal(TimeSpan.FromDays(94) + TimeSpan.FromMinutes(3), clock.Offset.ToTimeSpan());
    }
}
