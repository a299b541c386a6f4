using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Every write is safe to retry (AIP-155): the same request_id with the same request returns the first answer and
/// writes nothing more (audit trail included); the same request_id with another request is ALREADY_EXISTS
/// (REQUEST_ID_REUSED) and writes nothing.
/// </summary>
public abstract class RetryTests : OnEachDatabase
{
    /// <summary>
    /// One write: what must be in place first, then the call with a given request id, in two versions of its body; and
    /// the server settings it needs, if any (a rehearsal's clock moves only in UAT or training).
    /// </summary>
    public sealed record Write(string Method, Func<TrialServer, Task<Func<string, bool, Task<IMessage>>>> Prepare,
        IReadOnlyDictionary<string, string>? Settings = null);

    private static readonly Dictionary<string, string> Uat = new()
    {
        ["Trial:Mode"] = "Uat", ["Rehearsal:ClockControl"] = "true", [TrialServer.ClockSetting] = TrialServer.RealTrialClock,
    };

    private static async Task<IMessage> Call<T>(AsyncUnaryCall<T> call) where T : IMessage => await call.ResponseAsync;

    private static readonly IReadOnlyList<Write> Writes =
    [
        new("CreateUser", server => Ready((id, other) => Call(Admin(server).CreateUserAsync(new CreateUserRequest
            { RequestId = id, UserName = "new-monitor", FullName = "New Monitor", Role = "monitor", Reason = other ? "another reason" : "new staff" })))),
        new("UpdateUser", async server =>
        {
            await Admin(server).CreateUserAsync(new CreateUserRequest { UserName = "leaving", FullName = "Leaving Monitor", Role = "monitor", Reason = "new staff" });
            return (id, other) => Call(Admin(server).UpdateUserAsync(new UpdateUserRequest
                { RequestId = id, UserName = "leaving", Active = other, Reason = "left the study" }));
        }),
        new("CreateSite", server => Ready((id, other) => Call(Admin(server).CreateSiteAsync(new CreateSiteRequest
            { RequestId = id, Code = "JHU", Name = other ? "Johns Hopkins University" : "Johns Hopkins", Reason = "new site" })))),
        new("UpdateSite", server => Ready((id, other) => Call(Admin(server).UpdateSiteAsync(new UpdateSiteRequest
            { RequestId = id, Code = "UM", Active = other, Reason = "monitoring visit" })))),
        new("RegisterSiteSystem", server => Ready((id, other) => Call(Admin(server).RegisterSiteSystemAsync(new RegisterSiteSystemRequest
            { RequestId = id, ClientId = "edc-um", DisplayName = "EDC at UM", Sites = { "UM" }, Reason = other ? "another reason" : "go-live" })))),
        new("RotateSiteSystemSecret", async server =>
        {
            await Admin(server).RegisterSiteSystemAsync(new RegisterSiteSystemRequest { ClientId = "edc-um", DisplayName = "EDC at UM", Sites = { "UM" }, Reason = "go-live" });
            return (id, other) => Call(Admin(server).RotateSiteSystemSecretAsync(new RotateSiteSystemSecretRequest
                { RequestId = id, ClientId = "edc-um", Reason = other ? "another reason" : "secret leaked" }));
        }),
        new("RevokeSiteSystem", async server =>
        {
            await Admin(server).RegisterSiteSystemAsync(new RegisterSiteSystemRequest { ClientId = "edc-um", DisplayName = "EDC at UM", Sites = { "UM" }, Reason = "go-live" });
            return (id, other) => Call(Admin(server).RevokeSiteSystemAsync(new RevokeSiteSystemRequest
                { RequestId = id, ClientId = "edc-um", Reason = other ? "another reason" : "system retired" }));
        }),
        new("EnrollInCohort", server => Ready((id, other) => Call(Escalation(server).EnrollInCohortAsync(new EnrollInCohortRequest
            { RequestId = id, SiteCode = "UM", ScreeningId = other ? "PH1-B" : "PH1-A", Eligibility = Requests.Eligible() })))),
        new("RecordInfusion", async server =>
        {
            var participant = await EnrolAsync(server);
            server.Clock.Advance(TimeSpan.FromHours(1));
            var now = server.Clock.GetUtcNow();
            // The infusion gate: the bag is verified at the bedside first (thaw started before either infusion time).
            await ProductPath.VerifiedAtBedsideAsync(server, participant, startedAt: now.AddMinutes(-45));
            return (id, other) => Call(Participants(server).RecordInfusionAsync(new RecordInfusionRequest
                { RequestId = id, ParticipantId = participant, InfusedAt = Timestamp.FromDateTimeOffset(now.AddMinutes(other ? -30 : -10)) }));
        }),
        new("ReportSafetyEvent", async server =>
        {
            var participant = await EnrolAsync(server);
            return (id, other) => Call(Participants(server).ReportSafetyEventAsync(new ReportSafetyEventRequest
            {
                RequestId = id, ParticipantId = participant, Type = SafetyEventType.OtherSeriousAdverseEvent, Serious = !other,
                OnsetDate = new CalendarDate { Year = 2026, Month = 11, Day = 22 },
            }));
        }),
        new("RecordWithdrawal", async server =>
        {
            var participant = await EnrolAsync(server);
            return (id, other) => Call(Participants(server).RecordWithdrawalAsync(new RecordWithdrawalRequest
                { RequestId = id, ParticipantId = participant, Reason = other ? "moved away" : "withdrew consent" }));
        }),
        new("RecordDsmbDecision", server => Ready((id, other) => Call(Escalation(server, TrialRole.DsmbMember).RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            { RequestId = id, Decision = DsmbDecisionKind.Hold, Reason = other ? "another review" : "interim review" })))),
        new("RequestUnblinding", async server =>
        {
            var participant = await RandomizeAsync(server);
            return (id, other) => Call(Unblinding(server, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest
                { RequestId = id, Scope = UnblindingScope.Participant, ParticipantId = participant, Reason = other ? "DSMB query" : "SAE narrative" }));
        }),
        new("ApproveUnblinding", async server =>
        {
            var participant = await RandomizeAsync(server);
            var request = (await Unblinding(server, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest
                { Scope = UnblindingScope.Participant, ParticipantId = participant, Reason = "SAE narrative" })).Request;
            return (id, other) => Call(Unblinding(server, "stat-2").ApproveUnblindingAsync(new ApproveUnblindingRequest
                { RequestId = id, UnblindingId = request.UnblindingId, Reason = other ? "agreed" : "justified" }));
        }),
        new("EmergencyUnblind", async server =>
        {
            var participant = await RandomizeAsync(server);
            return (id, other) => Call(new UnblindingService.UnblindingServiceClient(server.Channel(TrialRole.Investigator, "UM")).EmergencyUnblindAsync(
                new EmergencyUnblindRequest { RequestId = id, ParticipantId = participant, Reason = other ? "overdose" : "anaphylaxis" }));
        }),
        new("MarkRandomizedInError", async server =>
        {
            var participant = await RandomizeAsync(server);
            return (id, other) => Call(new ParticipantService.ParticipantServiceClient(server.Channel(TrialRole.Investigator, "UM")).MarkRandomizedInErrorAsync(
                new MarkRandomizedInErrorRequest { RequestId = id, ParticipantId = participant, Type = RandomizedInErrorType.Ineligible, Reason = other ? "MMSE 22" : "MMSE 23" }));
        }),
        new("AmendSchedule", async server =>
        {
            await RandomizeAsync(server);
            return (id, other) => Call(server.Statistician().AmendScheduleAsync(new AmendScheduleRequest
                { RequestId = id, SiteCode = "NEW", SiteName = "New Site Hospital", Reason = other ? "amendment 3" : "amendment 2" }));
        }),
        new("AdvanceTrialClock", server => Ready((id, other) => Call(new RehearsalService.RehearsalServiceClient(server.Channel(TrialRole.Administrator))
            .AdvanceTrialClockAsync(new AdvanceTrialClockRequest { RequestId = id, AdvanceBy = Duration.FromTimeSpan(TimeSpan.FromDays(other ? 2 : 1)), Reason = "UAT: next window" }))),
            Uat),
        new("GenerateSchedule", server => Ready((id, other) => Call(server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest
            { RequestId = id, Reason = other ? "protocol v4" : "protocol v3" })))),
        new("ImportSchedule", server => Ready((id, other) => Call(server.Statistician().ImportScheduleAsync(new ImportScheduleRequest
            { RequestId = id, Csv = ByteString.CopyFromUtf8(ScheduleTests.ValidCsv()), Reason = other ? "list v2" : "list v1" })))),
        new("RecordPreparation", async server =>
        {
            var participant = await RandomizeAsync(server);
            var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participant });
            var units = order.Placebo ? [] : await ProductPath.ReleasedUnitsAsync(server, 1, order.CellCount * 2);
            var now = server.Clock.GetUtcNow();
            return (id, other) => Call(server.Pharmacy().RecordPreparationAsync(new RecordPreparationRequest
            {
                RequestId = id, ParticipantId = participant, UnitIds = { units },
                PreparationStartedAt = Timestamp.FromDateTimeOffset(now.AddMinutes(other ? -20 : -10)),
                Measurements = order.Placebo ? null : new CellMeasurements { PostThawCellCount = order.CellCount * 2, PostThawViabilityPercent = "92", FinalCells = order.CellCount, VolumeMl = "20" },
            }));
        }),
        new("VerifyPreparation", async server =>
        {
            var dose = await ProductPath.PrepareAsync(server, await RandomizeAsync(server));
            var second = server.As(server.Token(TrialRole.Pharmacist, ProductPath.SecondPharmacist)).Pharmacy;
            return (id, other) => Call(second.VerifyPreparationAsync(new VerifyPreparationRequest { RequestId = id, ProductId = other ? "CP-0000000000" : dose.ProductId }));
        }),
        new("DispatchDose", async server =>
        {
            var dose = await ProductPath.PrepareAsync(server, await RandomizeAsync(server));
            await server.As(server.Token(TrialRole.Pharmacist, ProductPath.SecondPharmacist)).Pharmacy.VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = dose.ProductId });
            return (id, other) => Call(server.Pharmacy().DispatchDoseAsync(new DispatchDoseRequest { RequestId = id, ProductId = dose.ProductId, Courier = other ? "nurse" : "courier" }));
        }),
        new("ReturnDose", async server =>
        {
            var bag = await ProductPath.DispatchedAsync(server, await RandomizeAsync(server));
            return (id, other) => Call(server.Pharmacy().ReturnDoseAsync(new ReturnDoseRequest { RequestId = id, ProductId = bag, Reason = other ? "visit moved" : "participant unwell" }));
        }),
        new("DestroyDose", async server =>
        {
            var dose = await ProductPath.PrepareAsync(server, await RandomizeAsync(server));
            return (id, other) => Call(server.Pharmacy().DestroyDoseAsync(new DestroyDoseRequest { RequestId = id, ProductId = dose.ProductId, Reason = other ? "bag leaked" : "bag damaged" }));
        }),
        new("Randomize", async server =>
        {
            await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "retry tests" });
            return (id, other) => Call(server.Site().RandomizeAsync(Requests.Randomize(other ? "SCR-B" : "SCR-A", requestId: id)));
        }),
        new("RegisterLot", server =>
        {
            var now = server.Clock.GetUtcNow();
            return Ready((id, other) => Call(server.As(TrialRole.Pharmacist).Inventory.RegisterLotAsync(
                InventoryTests.Lot(other ? "LOT-B" : "LOT-A", now, id, "G123498654321H"))));
        }),
        new("ReleaseLot", async server =>
        {
            await InventoryTests.RegisterAsync(server, "LOT-R", "G123498654321H");
            return (id, other) => Call(server.As(TrialRole.QualityAssurance).Inventory.ReleaseLotAsync(new ReleaseLotRequest
                { RequestId = id, LotNumber = "LOT-R", Exceptional = other, Justification = other ? "clinical need" : "" }));
        }),
        new("QuarantineLot", async server =>
        {
            await InventoryTests.RegisterAsync(server, "LOT-Q", "G123498654321H");
            return (id, other) => Call(server.As(TrialRole.QualityAssurance).Inventory.QuarantineLotAsync(new QuarantineLotRequest
                { RequestId = id, LotNumber = "LOT-Q", Reason = other ? "sterility" : "endotoxin" }));
        }),
        new("ReportExcursion", async server =>
        {
            await InventoryTests.RegisterAsync(server, "LOT-X", "G123498654321H");
            return (id, other) => Call(server.As(TrialRole.Pharmacist).Inventory.ReportExcursionAsync(new ReportExcursionRequest
                { RequestId = id, UnitId = "G123498654321H", Kind = ExcursionKind.Temperature, Reason = other ? "-120 °C" : "-130 °C" }));
        }),
        new("ReturnUnit", async server =>
        {
            await InventoryTests.RegisterAsync(server, "LOT-T", "G123498654321H");
            await InventoryTests.DispenseAsync(server, "G123498654321H");
            return (id, other) => Call(server.As(TrialRole.Pharmacist).Inventory.ReturnUnitAsync(new ReturnUnitRequest
                { RequestId = id, UnitId = "G123498654321H", Reason = other ? "infusion cancelled" : "participant unwell" }));
        }),
        new("DestroyUnit", async server =>
        {
            await InventoryTests.RegisterAsync(server, "LOT-D", "G123498654321H");
            return (id, other) => Call(server.As(TrialRole.Pharmacist).Inventory.DestroyUnitAsync(new DestroyUnitRequest
                { RequestId = id, UnitId = "G123498654321H", Reason = other ? "cracked" : "leaking" }));
        }),
    ];

    public static TheoryData<string> WriteNames() => [.. Writes.Select(w => w.Method)];

    private static Task<Func<string, bool, Task<IMessage>>> Ready(Func<string, bool, Task<IMessage>> call) => Task.FromResult(call);

    private static AdministrationService.AdministrationServiceClient Admin(TrialServer server) => new(server.Channel(TrialRole.Administrator));

    private static DoseEscalationService.DoseEscalationServiceClient Escalation(TrialServer server, TrialRole role = TrialRole.SiteCoordinator) =>
        new(server.Channel(role, "UM"));

    private static ParticipantService.ParticipantServiceClient Participants(TrialServer server, TrialRole role = TrialRole.SiteCoordinator) =>
        new(server.Channel(role, "UM"));

    private static UnblindingService.UnblindingServiceClient Unblinding(TrialServer server, string subject) =>
        new(server.Channel(server.Token(TrialRole.Statistician, subject)));

    private static async Task<string> EnrolAndGetIdAsync(TrialServer server) => (await Escalation(server).EnrollInCohortAsync(new EnrollInCohortRequest
        { SiteCode = "UM", ScreeningId = "PH1-SETUP", Eligibility = Requests.Eligible() })).Assignment.ParticipantId;

    private static Task<string> EnrolAsync(TrialServer server) => EnrolAndGetIdAsync(server);

    private static async Task<string> RandomizeAsync(TrialServer server)
    {
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "retry tests" });
        return (await server.Site().RandomizeAsync(Requests.Randomize("SCR-SETUP"))).Assignment.ParticipantId;
    }

    private static async Task<long> AuditEventsAsync(TrialServer server) =>
        Convert.ToInt64((await server.QueryAsync("""SELECT COUNT(*) FROM "AuditEvents" """))[0][0], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Writes_AreExactlyTheRpcsWhoseRequestHasARequestId()
    {
        var withRequestId = typeof(RandomizationService).Assembly.GetTypes()
            .Where(t => t.Name.EndsWith("Reflection", StringComparison.Ordinal) && t.Namespace == typeof(RandomizationService).Namespace)
            .Select(t => (Google.Protobuf.Reflection.FileDescriptor)t.GetProperty("Descriptor")!.GetValue(null)!)
            .SelectMany(f => f.Services).SelectMany(s => s.Methods)
            .Where(m => RetrySafeWrites.RequestIdField(m.InputType) is not null)
            .Select(m => m.Name).Order().ToList();

        Assert.Equal(Writes.Select(w => w.Method).Order(), withRequestId);
    }

    [ProviderTheory]
    [MemberData(nameof(WriteNames))]
    public async Task Write_SameRequestIdTwice_WritesOnceAndAnswersTheSame_AnotherBodyIsRefused(string method)
    {
        var write = Writes.Single(w => w.Method == method);
        await using var server = write.Settings is null ? NewServer() : NewServer(false, write.Settings);
        var call = await write.Prepare(server);
        var requestId = Guid.NewGuid().ToString();
        var before = await AuditEventsAsync(server);

        var first = await call(requestId, false);
        var afterFirst = await AuditEventsAsync(server);
        server.Clock.Advance(TimeSpan.FromMinutes(1));
        var retry = await call(requestId.ToUpperInvariant(), false);
        var refused = await Assert.ThrowsAsync<RpcException>(() => call(requestId, true));

        Assert.True(afterFirst > before, $"{method} should have written an audit event");
        Assert.Equal(first, retry);
        Assert.Equal(StatusCode.AlreadyExists, refused.StatusCode);
        Assert.Equal("REQUEST_ID_REUSED", refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(afterFirst, await AuditEventsAsync(server));
    }

    [ProviderFact]
    public async Task Write_RetryAfterTheAnswerRetention_IsRefusedNotRedoneAndTheAnswerIsErased()
    {
        await using var server = NewServer();
        var admin = new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator));
        var request = new CreateUserRequest { RequestId = Guid.NewGuid().ToString(), UserName = "new-monitor", FullName = "New Monitor", Role = "monitor", Reason = "new staff" };
        var first = await admin.CreateUserAsync(request);
        var events = await AuditEventsAsync(server);

        server.Clock.Advance(TimeSpan.FromHours(25));
        admin = new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator));
        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.CreateUserAsync(request).ResponseAsync);
        var erased = false;
        for (var i = 0; i < 50 && !erased; i++)
        {
            erased = Convert.ToInt64((await server.QueryAsync("""SELECT COUNT(*) FROM "WriteRequests" WHERE "ReplySealed" = '' """))[0][0],
                System.Globalization.CultureInfo.InvariantCulture) == 1;
            if (!erased) await Task.Delay(100);
        }

        Assert.NotEmpty(first.InitialPassword);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("REQUEST_ANSWER_EXPIRED", refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.DoesNotContain(first.InitialPassword, refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(events, await AuditEventsAsync(server));
        Assert.True(erased, "the first password stayed stored past its retention");
    }

    [ProviderFact]
    public async Task Write_RequestIdNotAUuid_IsInvalidArgumentNamingTheField()
    {
        await using var server = NewServer();
        var client = new ScheduleService.ScheduleServiceClient(server.RawChannel(server.Token(TrialRole.Statistician, "stat-1")));

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "v3" }).ResponseAsync);
        var malformed = await Assert.ThrowsAsync<RpcException>(() => client.GenerateScheduleAsync(new GenerateScheduleRequest { RequestId = "req-1", Reason = "v3" }).ResponseAsync);

        foreach (var error in new[] { missing, malformed })
        {
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations, v => v.Field == "request_id");
        }
        Assert.False((await server.Trial().GetTrialAsync(new GetTrialRequest())).ScheduleInPlace);
    }

    [ProviderFact]
    public async Task Write_SameRequestIdFromAnotherUser_IsRefusedAndRevealsNothing()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "retry tests" });
        var request = Requests.Randomize("SCR-1");
        await server.Site().RandomizeAsync(request);

        var other = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token(TrialRole.SiteCoordinator, "someone-else", ["UM"])));
        var error = await Assert.ThrowsAsync<RpcException>(() => other.RandomizeAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.DoesNotContain("P-", error.Status.Detail, StringComparison.Ordinal);
    }
}

public sealed class RetryTestsOnSqlite : RetryTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class RetryTestsOnPostgreSql : RetryTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class RetryTestsOnSqlServer : RetryTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
