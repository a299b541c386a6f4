using System.Collections;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The contract at the edges, as an independent client meets it: every request message of every service, filled by
/// reflection with extreme and malformed values, gets a clean status (never INTERNAL, UNKNOWN, UNAVAILABLE or
/// DATA_LOSS); times out of a Timestamp's range are INVALID_ARGUMENT naming the field.
/// </summary>
public abstract class ContractTests : OnEachDatabase
{
    private static readonly StatusCode[] Clean =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.FailedPrecondition, StatusCode.NotFound, StatusCode.AlreadyExists,
        StatusCode.PermissionDenied, StatusCode.Unauthenticated, StatusCode.ResourceExhausted,
    ];

    public enum Extreme
    {
        /// <summary>Every field at its largest: long strings, maximum numbers, unknown enum numbers, far-future times.</summary>
        Largest,
        /// <summary>Every field hostile: control characters and terminal escapes, minimum numbers, negative enums, times before year 1.</summary>
        Hostile,
        /// <summary>Nothing set at all.</summary>
        Empty,
    }

    private static IEnumerable<ServiceDescriptor> AllServices() =>
        typeof(RandomizationService).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(RandomizationService).Namespace && t.Name.EndsWith("Reflection", StringComparison.Ordinal))
            .Select(t => (FileDescriptor)t.GetProperty("Descriptor")!.GetValue(null)!)
            .SelectMany(f => f.Services);

    private static IMessage Fill(MessageDescriptor descriptor, Extreme extreme, int depth)
    {
        var message = (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
        if (extreme == Extreme.Empty || depth > 3) return message;
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (field.IsMap) continue;
            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = 0; i < 3; i++) list.Add(Value(field, extreme, depth));
            }
            else
            {
                field.Accessor.SetValue(message, Value(field, extreme, depth));
            }
        }
        return message;
    }

    private static object Value(FieldDescriptor field, Extreme extreme, int depth)
    {
        var largest = extreme == Extreme.Largest;
        return field.FieldType switch
        {
            FieldType.String => largest ? new string('x', 20_000) : "\0\u0001\u001b[2J\u202eP-1\r\n'; DROP TABLE \"Participants\"; --",
            FieldType.Bool => true,
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => largest ? int.MaxValue : int.MinValue,
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => largest ? long.MaxValue : long.MinValue,
            FieldType.UInt32 or FieldType.Fixed32 => uint.MaxValue,
            FieldType.UInt64 or FieldType.Fixed64 => ulong.MaxValue,
            FieldType.Double => largest ? double.PositiveInfinity : double.NaN,
            FieldType.Float => largest ? float.PositiveInfinity : float.NaN,
            FieldType.Bytes => ByteString.CopyFrom(Enumerable.Range(0, largest ? 4000 : 17).Select(i => (byte)(i * 37)).ToArray()),
            FieldType.Enum => System.Enum.ToObject(field.EnumType.ClrType, largest ? 999 : -1),
            FieldType.Message when field.MessageType.ClrType == typeof(Timestamp) =>
                largest ? new Timestamp { Seconds = 253_402_300_800 + 86_400 } : new Timestamp { Seconds = -62_135_596_801, Nanos = -1 },
            FieldType.Message => Fill(field.MessageType, extreme, depth + 1),
            _ => throw new InvalidOperationException($"no value for {field.FieldType}"),
        };
    }

    [ProviderFact]
    public async Task EveryRequestMessage_FilledWithExtremeValuesByReflection_NeverAnswersInternalOrUnknown()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "contract walk" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-WALK"));
        var outcomes = new List<(string Call, StatusCode Status, string Detail)>();
        var methods = AllServices().SelectMany(s => s.Methods.Select(m => (Path: $"/{s.FullName}/{m.Name}", m.InputType))).ToList();

        foreach (var (path, input) in methods)
        {
            // A caller the method allows, so the message is what is judged (the access table has its own tests).
            var token = HostileInputTests.TokenFor(server, path);
            foreach (var extreme in System.Enum.GetValues<Extreme>())
            {
                // Each extreme once as it is, and once with a well-formed request id, so writes are judged past the id.
                foreach (var wellFormedId in new[] { false, true })
                {
                    var message = Fill(input, extreme, 0);
                    if (wellFormedId && RetrySafeWrites.RequestIdField(input) is { } id) id.Accessor.SetValue(message, Guid.NewGuid().ToString());
                    else if (wellFormedId) continue;
                    var (status, detail) = await HostileInputTests.RawCallAsync(server, token, path, message.ToByteArray());
                    outcomes.Add(($"{path} {extreme}{(wellFormedId ? " with a request id" : "")}", status, detail));
                }
            }
        }

        Assert.True(methods.Count >= 30, $"only {methods.Count} methods were walked");
        var unclean = outcomes.Where(o => !Clean.Contains(o.Status) || o.Detail.Contains("   at ", StringComparison.Ordinal))
            .Select(o => $"{o.Call}: {o.Status} {o.Detail}").ToList();
        Assert.True(unclean.Count == 0, string.Join(Environment.NewLine, unclean));
    }

    [ProviderTheory]
    [InlineData(10_000)]
    [InlineData(0)]
    public async Task ListAuditEvents_TimeOutsideTheTimestampRange_IsInvalidArgumentNamingTheField(int year)
    {
        await using var server = NewServer();
        var seconds = year == 0 ? -62_135_596_801 : 253_402_300_800;
        var audit = new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor));

        var from = await Assert.ThrowsAsync<RpcException>(() => audit.ListAuditEventsAsync(new ListAuditEventsRequest { FromTime = new Timestamp { Seconds = seconds } }).ResponseAsync);
        var to = await Assert.ThrowsAsync<RpcException>(() => audit.ListAuditEventsAsync(new ListAuditEventsRequest { ToTime = new Timestamp { Seconds = seconds } }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, from.StatusCode);
        Assert.Equal("from_time", from.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field);
        Assert.Equal(StatusCode.InvalidArgument, to.StatusCode);
        Assert.Equal("to_time", to.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field);
    }

    [ProviderTheory]
    [InlineData(253_402_300_800L, 0)]
    [InlineData(-62_135_596_801L, 0)]
    [InlineData(1_790_000_000L, -1)]
    public async Task RecordInfusion_TimeOutsideTheTimestampRange_IsInvalidArgumentAndStoresNothing(long seconds, int nanos)
    {
        await using var server = NewServer();
        var site = new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"));
        var participant = (await site.EnrollInCohortAsync(new EnrollInCohortRequest { SiteCode = "UM", ScreeningId = "PH1-1", Eligibility = Requests.Eligible() }))
            .Assignment.ParticipantId;

        var error = await Assert.ThrowsAsync<RpcException>(() => new ParticipantService.ParticipantServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM")).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = participant, InfusedAt = new Timestamp { Seconds = seconds, Nanos = nanos } }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("infused_at", error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field);
        Assert.Equal(0, (await site.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status.Cohorts[0].Infused);
    }

    [ProviderFact]
    public async Task GetTrial_SiteCreatedAtRunTime_IsListedWithItsState()
    {
        await using var server = NewServer();
        var admin = new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator));
        await admin.CreateSiteAsync(new CreateSiteRequest { Code = "JHU", Name = "Johns Hopkins", Reason = "second site" });
        await admin.UpdateSiteAsync(new UpdateSiteRequest { Code = "UM", Active = false, Reason = "paused" });

        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());

        Assert.Equal(["UM", "JHU"], trial.Sites.Select(s => s.SiteCode));
        Assert.Equal("Johns Hopkins", trial.Sites[1].Name);
        Assert.Equal([false, true], trial.Sites.Select(s => s.Active));
    }

    [ProviderFact]
    public async Task Randomize_AlreadyRandomizedWhenTheTrialIsFull_IsAlreadyExistsAndATrueRetryGetsTheFirstAnswer()
    {
        await using var server = NewServer(("\"targetParticipants\": 30", "\"targetParticipants\": 1"));
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "small trial" });
        var request = Requests.Randomize("SCR-1");
        var first = await server.Site().RandomizeAsync(request);

        var duplicate = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-1")).ResponseAsync);
        var retry = await server.Site().RandomizeAsync(request);
        var newcomer = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-2")).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal("PARTICIPANT_ALREADY_IN_TRIAL", duplicate.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(first, retry);
        Assert.Equal("TRIAL_TARGET_REACHED", newcomer.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
    }

    [ProviderFact]
    public async Task Randomize_CallsRacingForOneParticipant_AreExpectedOutcomesLoggedWithoutErrors()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "race" });

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                await server.Site().RandomizeAsync(Requests.Randomize("SCR-RACE"));
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));
        await server.StopAsync();
        var log = string.Concat(Directory.GetFiles(server.LogFolder).Select(File.ReadAllText));

        Assert.Equal(1, results.Count(r => r == StatusCode.OK));
        Assert.All(results.Where(r => r != StatusCode.OK), r => Assert.Equal(StatusCode.AlreadyExists, r));
        Assert.DoesNotContain("\"Level\":\"Error\"", log, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Level\":\"Fatal\"", log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
        // The success is logged once, after its commit; the losers' rolled-back attempts log none.
        Assert.Single(log.Split('\n'), line => line.Contains("Randomized participant", StringComparison.Ordinal));
        Assert.Contains("PARTICIPANT_ALREADY_IN_TRIAL", log.Replace("ParticipantAlreadyInTrial", "PARTICIPANT_ALREADY_IN_TRIAL", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task EnrollInCohort_AlreadyEnrolledWhenTheCohortIsFull_IsAlreadyExists()
    {
        await using var server = NewServer();
        var site = new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"));
        for (var i = 1; i <= 5; i++)
            await site.EnrollInCohortAsync(new EnrollInCohortRequest { SiteCode = "UM", ScreeningId = $"PH1-{i}", Eligibility = Requests.Eligible() });

        var duplicate = await Assert.ThrowsAsync<RpcException>(() =>
            site.EnrollInCohortAsync(new EnrollInCohortRequest { SiteCode = "UM", ScreeningId = "PH1-3", Eligibility = Requests.Eligible() }).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
    }
}

public sealed class ContractTestsOnSqlite : ContractTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ContractTestsOnPostgreSql : ContractTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ContractTestsOnSqlServer : ContractTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
