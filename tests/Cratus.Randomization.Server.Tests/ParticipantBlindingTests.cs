using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The blind through ParticipantService (part of <see cref="BlindingTests"/>, the same detector).</summary>
public abstract partial class BlindingTests
{
    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task ParticipantService_BlindedRepliesAndErrors_NeverRevealAnArm_AndAreTheSameSizeWhateverTheArm()
    {
        await using var server = NewServer(TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var blindedText = new List<string>();
        void Blinded(IMessage reply) => blindedText.Add(JsonFormatter.Default.Format(reply));
        async Task BlindedError(Func<Task> call) => blindedText.Add((await Assert.ThrowsAsync<RpcException>(call)).Status.Detail);

        var coordinator = server.As(TrialRole.SiteCoordinator, "UM").Participants;
        var investigator = server.As(TrialRole.Investigator, "UM").Participants;
        var otherSite = server.As(TrialRole.SiteCoordinator, "JH").Participants;
        var armOf = new Dictionary<string, string>();
        var records = new List<ParticipantRecord>();
        for (var i = 0; i < 12; i++)
        {
            var id = (await server.Site().RandomizeAsync(Requests.Randomize($"S{i:D3}", i % 2 == 0 ? Sex.Female : Sex.Male))).Assignment.ParticipantId;
            armOf[id] = (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id })).ArmCode;
            var record = (await coordinator.GetParticipantAsync(new GetParticipantRequest { ParticipantId = id })).Participant;
            Blinded(record);
            records.Add(record);
        }
        var now = server.Clock.GetUtcNow();
        var today = new CalendarDate { Year = TrialServer.Now.Year, Month = TrialServer.Now.Month, Day = TrialServer.Now.Day };
        var n = 0;
        foreach (var id in armOf.Keys)
        {
            // The bedside (issue #16): a wrong bag is refused, the right one confirmed, both blinded; then the infusion.
            var bag = await ProductPath.DispatchedAsync(server, id, startedAt: now.AddMinutes(-30));
            var bedside = server.As(TrialRole.SiteCoordinator, "UM").Infusion;
            Blinded(await bedside.VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = "CP-0000000000", ParticipantId = id }));
            Blinded(await bedside.VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = id }));
            await BlindedError(() => server.As(TrialRole.SiteCoordinator, "JH").Infusion.VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = id }).ResponseAsync);
            Blinded(await coordinator.RecordInfusionAsync(new RecordInfusionRequest { ParticipantId = id, InfusedAt = Timestamp.FromDateTimeOffset(now) }));
            await BlindedError(() => coordinator.RecordInfusionAsync(new RecordInfusionRequest { ParticipantId = id, InfusedAt = Timestamp.FromDateTimeOffset(now.AddHours(-1)) }).ResponseAsync);
            Blinded(await coordinator.ReportSafetyEventAsync(new ReportSafetyEventRequest { ParticipantId = id, Type = SafetyEventType.Stroke, Serious = true, OnsetDate = today }));
            await BlindedError(() => otherSite.GetParticipantAsync(new GetParticipantRequest { ParticipantId = id }).ResponseAsync);
            await BlindedError(() => otherSite.RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = id, Reason = "moved" }).ResponseAsync);
            if (n % 3 == 0)
            {
                Blinded(await investigator.MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
                    { ParticipantId = id, Type = RandomizedInErrorType.WrongStratum, CorrectSex = n % 2 == 0 ? Sex.Male : Sex.Female, Reason = "sex recorded wrongly" }));
                await BlindedError(() => investigator.MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
                    { ParticipantId = id, Type = RandomizedInErrorType.Ineligible, Reason = "again" }).ResponseAsync);
            }
            if (n % 4 == 1)
            {
                Blinded(await coordinator.RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = id, Reason = "withdrew consent" }));
                await BlindedError(() => coordinator.RecordWithdrawalAsync(new RecordWithdrawalRequest { ParticipantId = id, Reason = "again" }).ResponseAsync);
            }
            Blinded(await coordinator.GetParticipantAsync(new GetParticipantRequest { ParticipantId = id }));
            n++;
        }
        await BlindedError(() => investigator.MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest { ParticipantId = armOf.Keys.Last() }).ResponseAsync);
        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Monitor })
            Blinded(await server.As(role, "UM").Participants.ListParticipantsAsync(new ListParticipantsRequest { PageSize = 100 }));
        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.DsmbMember, TrialRole.Monitor })
            Blinded(await server.As(role, "UM").Participants.ListSafetyEventsAsync(new ListSafetyEventsRequest()));
        Blinded(await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 }));

        foreach (var text in blindedText)
            Assert.False(Treatment().IsMatch(text), $"a blinded caller saw: {text}");
        Assert.False(Treatment().IsMatch(ReadLogs(server)), "the log holds a treatment");
        // The records of the three arms, read alike, are the same size.
        Assert.Equal(3, armOf.Values.Distinct().Count());
        var sizes = records.GroupBy(r => armOf[r.Summary.ParticipantId]).Select(g => g.Select(r => r.CalculateSize()).Distinct().Single()).Distinct();
        Assert.Single(sizes);
    }
}
