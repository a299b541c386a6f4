using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// ParticipantService through real gRPC: corrections without rewriting history (ICH E9). A participant randomized in
/// error keeps the allocation and the schedule is neither shifted nor reused; a Phase II withdrawal never frees an
/// allocation; Phase II infusion and safety events are recorded blinded; the listings carry the flags.
/// </summary>
public abstract class ParticipantServiceTests : OnEachDatabase
{
    private const string TwoSites = "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }";

    private TrialServer NewTwoSiteServer() =>
        NewServer(("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }", TwoSites));

    /// <summary>The schedule as the statistician's seed generates it: the entries each stratum's participants must get, in order.</summary>
    private static async Task<IReadOnlyDictionary<string, List<Domain.ScheduleEntry>>> GenerateScheduleAsync(TrialServer server)
    {
        var generated = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "corrections" });
        var definition = Domain.TrialDefinition.Parse(File.ReadAllText(Path.Combine(server.Folder, "trial.json")));
        var schedule = Domain.ScheduleGenerator.Generate(definition, Convert.FromHexString(generated.SeedHex), [3, 6]);
        return schedule.Entries.GroupBy(e => e.Stratum).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Sequence).ToList());
    }

    private static async Task<(BlindedAssignment Assignment, string Arm)> RandomizeAsync(TrialServer server, string screeningId, Sex sex, string site = "UM")
    {
        var assignment = (await server.Site(site).RandomizeAsync(Requests.Randomize(screeningId, sex, site))).Assignment;
        var arm = (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = assignment.ParticipantId })).ArmCode;
        return (assignment, arm);
    }

    private static ParticipantService.ParticipantServiceClient Investigator(TrialServer server, string site = "UM") => server.As(TrialRole.Investigator, site).Participants;

    [ProviderFact]
    public async Task MarkRandomizedInError_WrongSexRecorded_KeepsTheAllocation_AndTheNextOfBothStrataGetWhatTheyWouldHaveGot()
    {
        await using var server = NewTwoSiteServer();
        var schedule = await GenerateScheduleAsync(server);
        // A is recorded female at UM, but is male: randomized in the UM/F list by mistake.
        var a = await RandomizeAsync(server, "SCR-A", Sex.Female);

        var marked = (await Investigator(server).MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
        {
            ParticipantId = a.Assignment.ParticipantId, Type = RandomizedInErrorType.WrongStratum, CorrectSex = Sex.Male,
            Reason = "Sex recorded as female on the randomization form; the participant is male (source document verified).",
        })).Participant;
        var nextFemale = await RandomizeAsync(server, "SCR-B", Sex.Female);
        var nextMale = await RandomizeAsync(server, "SCR-C", Sex.Male);

        // The schedule is neither shifted nor reused: A keeps UM/F #1, B gets UM/F #2, C gets UM/M #1, as without the error.
        Assert.Equal((schedule["UM/F"][0].RandomizationNumber, schedule["UM/F"][0].ArmCode), (a.Assignment.RandomizationNumber, a.Arm));
        Assert.Equal((schedule["UM/F"][1].RandomizationNumber, schedule["UM/F"][1].ArmCode), (nextFemale.Assignment.RandomizationNumber, nextFemale.Arm));
        Assert.Equal((schedule["UM/M"][0].RandomizationNumber, schedule["UM/M"][0].ArmCode), (nextMale.Assignment.RandomizationNumber, nextMale.Arm));
        // A stays randomized, with the same allocation, and carries the mark with its correct value, reason and signature.
        var again = await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = a.Assignment.ParticipantId });
        Assert.Equal(a.Assignment.RandomizationNumber, again.Assignment.RandomizationNumber);
        Assert.Equal(a.Arm, (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = a.Assignment.ParticipantId })).ArmCode);
        Assert.Equal(ParticipantStatus.Randomized, marked.Summary.Status);
        Assert.Equal(RandomizedInErrorType.WrongStratum, marked.Summary.RandomizedInErrorType);
        Assert.Equal(Sex.Female, marked.Sex);
        Assert.Equal((Sex.Male, ""), (marked.RandomizedInError.CorrectSex, marked.RandomizedInError.CorrectSiteCode));
        Assert.StartsWith("Sex recorded as female", marked.RandomizedInError.Reason, StringComparison.Ordinal);
        Assert.Equal(SignedAction.RandomizedInError, marked.RandomizedInError.Signature.Action);
        Assert.Equal(a.Assignment.ParticipantId, marked.RandomizedInError.Signature.RecordId);
        Assert.Equal("investigator", marked.RandomizedInError.Signature.Role);
        // In every listing, flagged; the audit trail has the signed event; every allocation is still as sealed.
        var listed = await server.As(TrialRole.Monitor).Participants.ListParticipantsAsync(new ListParticipantsRequest { Phase = TrialPhase.Randomized });
        Assert.Equal(3, listed.TotalSize);
        Assert.Equal(RandomizedInErrorType.WrongStratum, listed.Participants.Single(p => p.ParticipantId == a.Assignment.ParticipantId).RandomizedInErrorType);
        Assert.Equal(2, listed.Participants.Count(p => p.RandomizedInErrorType == RandomizedInErrorType.Unspecified));
        var audit = new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor));
        var events = (await audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "participant.randomized_in_error" })).Events;
        var signed = Assert.Single(events);
        Assert.Equal(a.Assignment.ParticipantId, signed.Target);
        Assert.Contains("correct sex male (recorded female)", signed.Details, StringComparison.Ordinal);
        Assert.True((await audit.VerifyAllocationsAsync(new VerifyAllocationsRequest())).Intact);
        Assert.True((await audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Intact);
    }

    [ProviderFact]
    public async Task MarkRandomizedInError_WrongSiteRecorded_NextParticipantsOfBothSitesGetTheirOwnListsNextEntries()
    {
        await using var server = NewTwoSiteServer();
        var schedule = await GenerateScheduleAsync(server);
        var a = await RandomizeAsync(server, "SCR-A", Sex.Male);

        var marked = (await Investigator(server).MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
        {
            ParticipantId = a.Assignment.ParticipantId, Type = RandomizedInErrorType.WrongStratum, CorrectSiteCode = "JH", Reason = "screened at JH, entered at UM",
        })).Participant;
        var nextUm = await RandomizeAsync(server, "SCR-B", Sex.Male);
        var firstJh = await RandomizeAsync(server, "SCR-C", Sex.Male, "JH");

        Assert.Equal(("JH", Sex.Unspecified, "UM"), (marked.RandomizedInError.CorrectSiteCode, marked.RandomizedInError.CorrectSex, marked.Summary.SiteCode));
        Assert.Equal(schedule["UM/M"][1].RandomizationNumber, nextUm.Assignment.RandomizationNumber);
        Assert.Equal(schedule["JH/M"][0].RandomizationNumber, firstJh.Assignment.RandomizationNumber);
        Assert.Equal(schedule["UM/M"][0].RandomizationNumber, a.Assignment.RandomizationNumber);
    }

    [ProviderFact]
    public async Task MarkRandomizedInError_Refusals_NameTheReason_AndWriteNothing()
    {
        await using var server = NewTwoSiteServer();
        await GenerateScheduleAsync(server);
        var a = (await RandomizeAsync(server, "SCR-A", Sex.Female)).Assignment.ParticipantId;
        var phaseOne = (await server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation.EnrollInCohortAsync(new EnrollInCohortRequest
            { SiteCode = "UM", ScreeningId = "PH1-1", Eligibility = Requests.Eligible() })).Assignment.ParticipantId;
        MarkRandomizedInErrorRequest Mark(string id, RandomizedInErrorType type = RandomizedInErrorType.Ineligible, Sex sex = Sex.Unspecified, string site = "",
            string reason = "MMSE re-scored: 22") => new() { ParticipantId = id, Type = type, CorrectSex = sex, CorrectSiteCode = site, Reason = reason };
        async Task<(StatusCode Code, string Reason, string Field)> RefusedAsync(MarkRandomizedInErrorRequest request)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => Investigator(server).MarkRandomizedInErrorAsync(request).ResponseAsync);
            var status = error.GetRpcStatus()!;
            return (error.StatusCode, status.GetDetail<Google.Rpc.ErrorInfo>()!.Reason,
                status.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations.FirstOrDefault()?.Field ?? "");
        }

        var invalid = new[]
        {
            (await RefusedAsync(Mark(a, RandomizedInErrorType.Unspecified)), "type"),
            (await RefusedAsync(Mark(a, sex: Sex.Male)), "correct_sex"),
            (await RefusedAsync(Mark(a, site: "JH")), "correct_site_code"),
            (await RefusedAsync(Mark(a, RandomizedInErrorType.WrongStratum)), "correct_sex"),
            (await RefusedAsync(Mark(a, RandomizedInErrorType.WrongStratum, Sex.Female)), "correct_sex"),
            (await RefusedAsync(Mark(a, RandomizedInErrorType.WrongStratum, site: "UM")), "correct_site_code"),
            (await RefusedAsync(Mark(a, RandomizedInErrorType.WrongStratum, site: "XX")), "correct_site_code"),
            (await RefusedAsync(Mark(a, reason: " ")), "reason"),
            (await RefusedAsync(Mark("")), "participant_id"),
        };
        var phaseOneRefusal = await RefusedAsync(Mark(phaseOne));
        var unsigned = await Assert.ThrowsAsync<RpcException>(() => Investigator(server).MarkRandomizedInErrorAsync(
            new MarkRandomizedInErrorRequest(Mark(a)) { Signature = new ElectronicSignature() }).ResponseAsync);
        var untouched = (await Investigator(server).GetParticipantAsync(new GetParticipantRequest { ParticipantId = a })).Participant;
        await Investigator(server).MarkRandomizedInErrorAsync(Mark(a));
        var twice = await RefusedAsync(Mark(a, RandomizedInErrorType.WrongStratum, Sex.Male));

        foreach (var ((code, reason, field), expected) in invalid)
            Assert.Equal((StatusCode.InvalidArgument, "REQUEST_INVALID", expected), (code, reason, field));
        Assert.Equal((StatusCode.FailedPrecondition, "PARTICIPANT_NOT_RANDOMIZED"), (phaseOneRefusal.Code, phaseOneRefusal.Reason));
        Assert.Equal(StatusCode.InvalidArgument, unsigned.StatusCode);
        Assert.Null(untouched.RandomizedInError);
        Assert.Equal((StatusCode.FailedPrecondition, "RANDOMIZED_IN_ERROR_ALREADY_MARKED"), (twice.Code, twice.Reason));
        var marks = await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).ListAuditEventsAsync(new ListAuditEventsRequest { Action = "participant.randomized_in_error" });
        Assert.Single(marks.Events);
        var stored = (await Investigator(server).GetParticipantAsync(new GetParticipantRequest { ParticipantId = a })).Participant.RandomizedInError;
        Assert.Equal((RandomizedInErrorType.Ineligible, Sex.Unspecified, "MMSE re-scored: 22"), (stored.Type, stored.CorrectSex, stored.Reason));
    }

    [ProviderFact]
    public async Task PhaseTwoWithdrawal_NeverFreesTheAllocation_TheNextOfTheStratumGetsTheNextEntry()
    {
        await using var server = NewTwoSiteServer();
        var schedule = await GenerateScheduleAsync(server);
        var a = await RandomizeAsync(server, "SCR-A", Sex.Female);

        var withdrawal = await server.As(TrialRole.SiteCoordinator, "UM").Participants.RecordWithdrawalAsync(
            new RecordWithdrawalRequest { ParticipantId = a.Assignment.ParticipantId, Reason = "withdrew consent before infusion" });
        var next = await RandomizeAsync(server, "SCR-B", Sex.Female);
        var infuseWithdrawn = await Assert.ThrowsAsync<RpcException>(() => server.As(TrialRole.SiteCoordinator, "UM").Participants.RecordInfusionAsync(
            new RecordInfusionRequest { ParticipantId = a.Assignment.ParticipantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) }).ResponseAsync);

        Assert.False(withdrawal.PlaceFreed);
        Assert.Equal(schedule["UM/F"][1].RandomizationNumber, next.Assignment.RandomizationNumber);
        Assert.Equal(schedule["UM/F"][1].ArmCode, next.Arm);
        Assert.NotEqual(a.Assignment.RandomizationNumber, next.Assignment.RandomizationNumber);
        Assert.Equal(StatusCode.FailedPrecondition, infuseWithdrawn.StatusCode);
        // The withdrawn participant stays in the listing, withdrawn, with the allocation.
        var withdrawn = await server.As(TrialRole.SiteCoordinator, "UM").Participants.ListParticipantsAsync(new ListParticipantsRequest { Status = ParticipantStatus.Withdrawn });
        var row = Assert.Single(withdrawn.Participants);
        Assert.Equal((a.Assignment.ParticipantId, true, a.Assignment.RandomizationNumber), (row.ParticipantId, row.Withdrawn, row.RandomizationNumber));
        Assert.NotNull(row.WithdrawnAt);
        Assert.Equal(a.Arm, (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = a.Assignment.ParticipantId })).ArmCode);
    }

    [ProviderFact]
    public async Task PhaseTwoInfusionAndSafetyEvent_AreRecorded_ListedForTheDsmb_AndHoldNoRandomization()
    {
        await using var server = NewTwoSiteServer();
        await GenerateScheduleAsync(server);
        var a = (await RandomizeAsync(server, "SCR-A", Sex.Female)).Assignment.ParticipantId;
        var site = server.As(TrialRole.SiteCoordinator, "UM").Participants;

        await ProductPath.VerifiedAtBedsideAsync(server, a);
        var infusion = await site.RecordInfusionAsync(new RecordInfusionRequest { ParticipantId = a, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) });
        var today = TrialServer.Now;
        var report = await site.ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = a, Type = SafetyEventType.Stroke, Serious = true, OnsetDate = new CalendarDate { Year = today.Year, Month = today.Month, Day = today.Day },
        });
        var afterwards = await RandomizeAsync(server, "SCR-B", Sex.Female);
        var forDsmb = await server.As(TrialRole.DsmbMember).Participants.ListSafetyEventsAsync(new ListSafetyEventsRequest { Phase = TrialPhase.Randomized });
        var record = (await site.GetParticipantAsync(new GetParticipantRequest { ParticipantId = a })).Participant;
        var escalation = (await server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;

        Assert.Equal(server.Clock.GetUtcNow().AddDays(30), infusion.SafetyWindowClosesAt.ToDateTimeOffset());
        Assert.True(report.TreatmentEmergent);
        Assert.False(report.EnrolmentOnHold);
        Assert.Contains("DSMB", report.Message, StringComparison.Ordinal);
        Assert.NotEmpty(afterwards.Assignment.RandomizationNumber);
        var listed = Assert.Single(forDsmb.Events);
        Assert.Equal((a, "UM", TrialPhase.Randomized, SafetyEventType.Stroke, true), (listed.ParticipantId, listed.SiteCode, listed.Phase, listed.Type, listed.TreatmentEmergent));
        Assert.Equal(ParticipantStatus.Infused, record.Summary.Status);
        // Phase I's board holds no Phase II event, and Phase I enrolment is not held by it.
        Assert.Empty(escalation.SafetyEvents);
        Assert.False(escalation.OnHold);
    }

    [ProviderFact]
    public async Task ListParticipants_FiltersAndPages_BothPhases()
    {
        await using var server = NewTwoSiteServer();
        await GenerateScheduleAsync(server);
        for (var i = 0; i < 3; i++) await RandomizeAsync(server, $"SCR-{i}", Sex.Female);
        await RandomizeAsync(server, "SCR-JH", Sex.Female, "JH");
        await server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation.EnrollInCohortAsync(new EnrollInCohortRequest
            { SiteCode = "UM", ScreeningId = "PH1-1", Eligibility = Requests.Eligible() });
        var monitor = server.As(TrialRole.Monitor).Participants;

        var first = await monitor.ListParticipantsAsync(new ListParticipantsRequest { PageSize = 2 });
        var second = await monitor.ListParticipantsAsync(new ListParticipantsRequest { PageSize = 2, PageToken = first.NextPageToken });
        var third = await monitor.ListParticipantsAsync(new ListParticipantsRequest { PageSize = 2, PageToken = second.NextPageToken });
        var phaseOne = await monitor.ListParticipantsAsync(new ListParticipantsRequest { Phase = TrialPhase.DoseEscalation });
        var jh = await monitor.ListParticipantsAsync(new ListParticipantsRequest { SiteCode = "JH" });
        var umOnly = await server.As(TrialRole.SiteCoordinator, "UM").Participants.ListParticipantsAsync(new ListParticipantsRequest());
        var badPage = await Assert.ThrowsAsync<RpcException>(() => monitor.ListParticipantsAsync(new ListParticipantsRequest { PageSize = 101 }).ResponseAsync);

        Assert.Equal(5, first.TotalSize);
        Assert.Equal(5, first.Participants.Concat(second.Participants).Concat(third.Participants).Select(p => p.ParticipantId).Distinct().Count());
        Assert.Equal("", third.NextPageToken);
        var placed = Assert.Single(phaseOne.Participants);
        Assert.Equal((1, ""), (placed.Cohort, placed.RandomizationNumber));
        Assert.Equal("JH", Assert.Single(jh.Participants).SiteCode);
        Assert.Equal(4, umOnly.TotalSize);
        Assert.Equal(StatusCode.InvalidArgument, badPage.StatusCode);
    }
}

public sealed class ParticipantServiceTestsOnSqlite : ParticipantServiceTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ParticipantServiceTestsOnPostgreSql : ParticipantServiceTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ParticipantServiceTestsOnSqlServer : ParticipantServiceTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
