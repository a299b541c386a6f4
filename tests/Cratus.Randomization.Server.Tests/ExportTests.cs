using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using CsvHelper;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// ExportService.ExportParticipants through real gRPC: who may take which export, the blinded file carries no arm and
/// is the same size and shape whatever the arms, the unblinded one only under an approved request and then matches the
/// schedule, the trial mode is in the name and every row, and the audit event carries the digest of the bytes received.
/// </summary>
public abstract class ExportTests : OnEachDatabase
{
    private static readonly (string, string)[] TwoSites =
    [
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"),
    ];

    private static ExportService.ExportServiceClient Exports(TrialServer server, TrialRole role, string subject = "user") =>
        new(server.Channel(server.Token(role, subject, TrialRoles.IsSiteRole(role) ? ["UM"] : null)));

    private static UnblindingService.UnblindingServiceClient Unblinding(TrialServer server, string subject) =>
        new(server.Channel(server.Token(TrialRole.Statistician, subject)));

    private static ExportParticipantsRequest Blinded(ExportFormat format = ExportFormat.Csv) => new() { Format = format, Scope = ExportScope.Blinded };

    private static ExportParticipantsRequest Unblinded(string unblindingId, ExportFormat format = ExportFormat.Csv) =>
        new() { Format = format, Scope = ExportScope.Unblinded, UnblindingId = unblindingId };

    /// <summary>Twelve participants, six at each site, alternating sex, all with screening ids of one length.</summary>
    private static async Task<List<BlindedAssignment>> RandomizeTwelveAsync(TrialServer server)
    {
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var assignments = new List<BlindedAssignment>();
        for (var i = 0; i < 12; i++)
        {
            var site = i < 6 ? "UM" : "JH";
            assignments.Add((await server.Site(site).RandomizeAsync(Requests.Randomize($"S{i:D3}", i % 2 == 0 ? Sex.Female : Sex.Male, site))).Assignment);
        }
        return assignments;
    }

    private static async Task<string> ApprovedAsync(TrialServer server, UnblindingScope scope, string participantId = "")
    {
        var request = (await Unblinding(server, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest
            { Scope = scope, ParticipantId = participantId, Reason = "analysis" })).Request;
        await Unblinding(server, "stat-2").ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "agreed" });
        return request.UnblindingId;
    }

    /// <summary>The file read back with CsvHelper: its header and each row by column name.</summary>
    internal static (IReadOnlyList<string> Header, List<Dictionary<string, string>> Rows) Parse(byte[] content)
    {
        using var reader = CsvReader.FromText(Encoding.UTF8.GetString(content), CsvReaderOptions.Default);
        var header = reader.Headers.ToArray();
        var rows = new List<Dictionary<string, string>>();
        while (reader.Read())
            rows.Add(header.ToDictionary(h => h, h => reader.GetString(h), StringComparer.Ordinal));
        return (header, rows);
    }

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static async Task<string> ArmOf(TrialServer server, string participantId) =>
        (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId })).ArmCode;

    [ProviderFact]
    public async Task BlindedExport_MonitorBothFormats_HasNoArmParsesBackAndIsAuditedWithTheDigestOfTheBytes()
    {
        await using var server = NewServer(TwoSites);
        var assignments = await RandomizeTwelveAsync(server);
        await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Investigator, "dr-jones", ["UM"])))
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = assignments[0].ParticipantId, Reason = "anaphylaxis" });
        await new ParticipantService.ParticipantServiceClient(server.Channel(server.Token(TrialRole.Investigator, "dr-jones", ["UM"])))
            .MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
            {
                ParticipantId = assignments[1].ParticipantId, Type = RandomizedInErrorType.WrongStratum, CorrectSex = Sex.Female, Reason = "sex recorded wrongly",
            });

        var csv = await Exports(server, TrialRole.Monitor, "monitor-1").ExportParticipantsAsync(Blinded(ExportFormat.Csv));
        var cdisc = await Exports(server, TrialRole.Monitor, "monitor-1").ExportParticipantsAsync(Blinded(ExportFormat.Cdisc));

        foreach (var file in new[] { csv, cdisc })
        {
            var text = file.Content.ToStringUtf8();
            Assert.DoesNotMatch(BlindingTests.Treatment(), text);
            Assert.DoesNotMatch(BlindingTests.Treatment(), file.FileName);
            Assert.Equal(Sha256(file.Content.ToByteArray()), file.Sha256);
            Assert.Equal(12, file.Rows);
            Assert.Equal("text/csv; charset=utf-8; header=present", file.ContentType);
            Assert.Equal("PRODUCTION", file.TrialMode);
            Assert.Matches(@"^CRATUS_PRODUCTION_(participants|adsl)_blinded_\d{8}T\d{6}Z\.csv$", file.FileName);
        }
        var (header, rows) = Parse(csv.Content.ToByteArray());
        Assert.DoesNotContain("arm_code", header);
        Assert.DoesNotContain("arm", header);
        Assert.Equal(assignments.Select(a => a.ParticipantId), rows.Select(r => r["participant_id"]));
        Assert.Equal(assignments.Select(a => a.RandomizationNumber), rows.Select(r => r["randomization_number"]));
        Assert.All(rows, r => Assert.Equal("PRODUCTION", r["trial_mode"]));
        Assert.Equal(["Y", .. Enumerable.Repeat("N", 11)], rows.Select(r => r["emergency_unblinded"]));
        var (adslHeader, adsl) = Parse(cdisc.Content.ToByteArray());
        Assert.Equal(["TRIALMOD", "STUDYID", "USUBJID", "SUBJID", "SITEID"], adslHeader.Take(5));
        Assert.Contains("RANDDT", adslHeader);
        Assert.DoesNotContain("ARMCD", adslHeader);
        Assert.DoesNotContain("ARM", adslHeader);
        Assert.Equal($"CRATUS-{assignments[0].ParticipantId}", adsl[0]["USUBJID"]);
        Assert.Equal("UM/F", adsl[0]["STRATAR"]);
        Assert.Equal("2026-11-22", adsl[0]["RANDDT"]);
        Assert.Equal("Y", adsl[0]["EMUNBLFL"]);
        Assert.Equal(["N", "Y", .. Enumerable.Repeat("N", 10)], rows.Select(r => r["randomized_in_error"]));
        Assert.Equal(("Y", "WRONG STRATUM", "F", "UM/M"), (adsl[1]["RIEFL"], adsl[1]["RIETYPE"], adsl[1]["RIESEX"], adsl[1]["STRATAR"]));
        Assert.Equal("sex recorded wrongly", adsl[1]["RIEREAS"]);
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "export.participants" })).Events;
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal("monitor-1", e.User));
        Assert.Contains($"sha256 {Sha256(csv.Content.ToByteArray())}", events[0].Details, StringComparison.Ordinal);
        Assert.Contains("scope blinded; format csv", events[0].Details, StringComparison.Ordinal);
        Assert.Contains("rows 12", events[0].Details, StringComparison.Ordinal);
        Assert.Contains($"sha256 {Sha256(cdisc.Content.ToByteArray())}", events[1].Details, StringComparison.Ordinal);
        Assert.Contains("format cdisc", events[1].Details, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task BlindedExport_TwoSchedules_SameSizeAndShapeWhateverTheArms()
    {
        await using var first = NewServer(TwoSites);
        await using var second = NewServer(TwoSites);
        var a = await RandomizeTwelveAsync(first);
        var b = await RandomizeTwelveAsync(second);
        var armsA = new List<string>();
        var armsB = new List<string>();
        foreach (var p in a) armsA.Add(await ArmOf(first, p.ParticipantId));
        foreach (var p in b) armsB.Add(await ArmOf(second, p.ParticipantId));
        Assert.NotEqual(armsA, armsB); // two seeds, two schedules: the same people are in other arms

        foreach (var format in new[] { ExportFormat.Csv, ExportFormat.Cdisc })
        {
            var fileA = await Exports(first, TrialRole.Monitor).ExportParticipantsAsync(Blinded(format));
            var fileB = await Exports(second, TrialRole.Statistician).ExportParticipantsAsync(Blinded(format));

            Assert.Equal(fileA.Content.Length, fileB.Content.Length);
            Assert.Equal(fileA.FileName.Length, fileB.FileName.Length);
            var linesA = fileA.Content.ToStringUtf8().Split("\r\n");
            var linesB = fileB.Content.ToStringUtf8().Split("\r\n");
            Assert.Equal(linesA[0], linesB[0]);
            Assert.Equal(linesA.Select(l => l.Length), linesB.Select(l => l.Length));
            // Within one file too: every participant's row has one length, whichever arm they are in.
            Assert.Single(linesA.Skip(1).Where(l => l.Length > 0).Select(l => l.Length).Distinct());
            Assert.Equal(Parse(fileA.Content.ToByteArray()).Rows.Select(r => r.Keys.Count), Parse(fileB.Content.ToByteArray()).Rows.Select(r => r.Keys.Count));
        }
    }

    [ProviderFact]
    public async Task UnblindedExport_FinalApproved_MatchesTheScheduleAndIsAuditedAsAnUnblindedRead()
    {
        await using var server = NewServer(TwoSites);
        var assignments = await RandomizeTwelveAsync(server);
        var id = await ApprovedAsync(server, UnblindingScope.Final);

        var csv = await Exports(server, TrialRole.Statistician, "stat-1").ExportParticipantsAsync(Unblinded(id, ExportFormat.Csv));
        var cdisc = await Exports(server, TrialRole.Statistician, "stat-1").ExportParticipantsAsync(Unblinded(id, ExportFormat.Cdisc));

        var allocations = (await Unblinding(server, "stat-1").GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = id })).Allocations
            .ToDictionary(x => x.Assignment.ParticipantId, x => x.Treatment);
        var (_, rows) = Parse(csv.Content.ToByteArray());
        Assert.Equal(12, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(await ArmOf(server, row["participant_id"]), row["arm_code"]);
            Assert.Equal(allocations[row["participant_id"]].ArmCode, row["arm_code"]);
        }
        var (adslHeader, adsl) = Parse(cdisc.Content.ToByteArray());
        Assert.Equal(["ARMCD", "ARM"], adslHeader.TakeLast(2));
        Assert.Equal(rows.Select(r => r["arm_code"]), adsl.Select(r => r["ARMCD"]));
        Assert.All(adsl, r => Assert.Equal(allocations[r["SUBJID"]].Treatment, r["ARM"]));
        Assert.Equal(assignments.Select(x => x.RandomizationNumber), adsl.Select(r => r["RANDNUM"]));
        Assert.Matches($"^CRATUS_PRODUCTION_adsl_unblinded-{id}_\\d{{8}}T\\d{{6}}Z\\.csv$", cdisc.FileName);
        var events = (await server.As(TrialRole.Statistician).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unblinding.participants_exported" })).Events;
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(id, e.Target));
        Assert.Contains($"sha256 {Sha256(csv.Content.ToByteArray())}", events[0].Details, StringComparison.Ordinal);
        Assert.Contains($"sha256 {Sha256(cdisc.Content.ToByteArray())}", events[1].Details, StringComparison.Ordinal);
        Assert.Contains("scope unblinded, scope Final; format csv", events[0].Details, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task UnblindedExport_OneParticipantScope_ExportsThatParticipantOnly()
    {
        await using var server = NewServer(TwoSites);
        var assignments = await RandomizeTwelveAsync(server);
        var id = await ApprovedAsync(server, UnblindingScope.Participant, assignments[3].ParticipantId);

        var file = await Exports(server, TrialRole.Statistician, "stat-2").ExportParticipantsAsync(Unblinded(id));

        var row = Assert.Single(Parse(file.Content.ToByteArray()).Rows);
        Assert.Equal(assignments[3].ParticipantId, row["participant_id"]);
        Assert.Equal(await ArmOf(server, assignments[3].ParticipantId), row["arm_code"]);
    }

    [ProviderFact]
    public async Task UnblindedExport_WithoutApprovalExpiredWrongScopeOrRole_IsRefusedWithItsReason()
    {
        await using var server = NewServer(TwoSites);
        await RandomizeTwelveAsync(server);
        var pending = (await Unblinding(server, "stat-1").RequestUnblindingAsync(new RequestUnblindingRequest { Scope = UnblindingScope.Final, Reason = "lock" })).Request.UnblindingId;
        var aggregate = await ApprovedAsync(server, UnblindingScope.DsmbAggregate);
        var statistician = Exports(server, TrialRole.Statistician, "stat-1");

        async Task<RpcException> Refused(ExportParticipantsRequest request, ExportService.ExportServiceClient? client = null) =>
            await Assert.ThrowsAsync<RpcException>(() => (client ?? statistician).ExportParticipantsAsync(request).ResponseAsync);
        static string? Reason(RpcException e) => e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason;

        var notApproved = await Refused(Unblinded(pending));
        var wrongScope = await Refused(Unblinded(aggregate));
        var noId = await Refused(Unblinded(""));
        var unknown = await Refused(Unblinded("U-ZZZZZZZZ"));
        var noFormat = await Refused(new ExportParticipantsRequest { Scope = ExportScope.Blinded });
        var noScope = await Refused(new ExportParticipantsRequest { Format = ExportFormat.Csv });
        var monitor = await Refused(Unblinded(aggregate), Exports(server, TrialRole.Monitor));
        var final = await ApprovedAsync(server, UnblindingScope.Final);
        server.Clock.Advance(TimeSpan.FromDays(4));
        var expired = await Refused(Unblinded(final), Exports(server, TrialRole.Statistician, "stat-1"));

        Assert.Equal((StatusCode.FailedPrecondition, "UNBLINDING_NOT_APPROVED"), (notApproved.StatusCode, Reason(notApproved)));
        Assert.Equal((StatusCode.FailedPrecondition, "UNBLINDING_SCOPE_NOT_EXPORTABLE"), (wrongScope.StatusCode, Reason(wrongScope)));
        Assert.Contains("counts by arm only", wrongScope.Status.Detail, StringComparison.Ordinal);
        Assert.Equal((StatusCode.InvalidArgument, "REQUEST_INVALID"), (noId.StatusCode, Reason(noId)));
        Assert.Equal((StatusCode.NotFound, "UNBLINDING_REQUEST_NOT_FOUND"), (unknown.StatusCode, Reason(unknown)));
        Assert.Equal(StatusCode.InvalidArgument, noFormat.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, noScope.StatusCode);
        Assert.Equal((StatusCode.PermissionDenied, "ROLE_NOT_PERMITTED"), (monitor.StatusCode, Reason(monitor)));
        Assert.Equal((StatusCode.FailedPrecondition, "UNBLINDING_APPROVAL_EXPIRED"), (expired.StatusCode, Reason(expired)));
        // Nothing refused was recorded as an export.
        var audit = server.As(TrialRole.Statistician).Audit;
        Assert.Empty((await audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unblinding.participants_exported" })).Events);
        Assert.Empty((await audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "export.participants" })).Events);
    }

    [ProviderFact]
    public async Task Export_EveryRole_BlindedForMonitorsAndStatisticiansUnblindedForStatisticiansOnly()
    {
        await using var server = NewServer(TwoSites);
        await RandomizeTwelveAsync(server);
        var final = await ApprovedAsync(server, UnblindingScope.Final);

        foreach (var role in Enum.GetValues<TrialRole>())
        {
            var client = Exports(server, role, $"{role}-1");
            var blinded = await Outcome(() => client.ExportParticipantsAsync(Blinded()).ResponseAsync);
            var unblinded = await Outcome(() => client.ExportParticipantsAsync(Unblinded(final)).ResponseAsync);

            Assert.Equal(role is TrialRole.Monitor or TrialRole.Statistician ? StatusCode.OK : StatusCode.PermissionDenied, blinded);
            Assert.Equal(role is TrialRole.Statistician ? StatusCode.OK : StatusCode.PermissionDenied, unblinded);
        }

        static async Task<StatusCode> Outcome(Func<Task> call)
        {
            try
            {
                await call();
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }
    }

    [ProviderFact]
    public async Task Export_InUat_TheModeIsInTheFileNameAndEveryRow()
    {
        await using var server = NewServer(false, new Dictionary<string, string> { ["Trial:Mode"] = "Uat" }, TwoSites);
        await RandomizeTwelveAsync(server);

        var csv = await Exports(server, TrialRole.Monitor).ExportParticipantsAsync(Blinded(ExportFormat.Csv));
        var cdisc = await Exports(server, TrialRole.Monitor).ExportParticipantsAsync(Blinded(ExportFormat.Cdisc));

        Assert.StartsWith("CRATUS_UAT_participants_blinded_", csv.FileName, StringComparison.Ordinal);
        Assert.StartsWith("CRATUS_UAT_adsl_blinded_", cdisc.FileName, StringComparison.Ordinal);
        Assert.Equal("UAT", csv.TrialMode);
        Assert.All(Parse(csv.Content.ToByteArray()).Rows, r => Assert.Equal("UAT", r["trial_mode"]));
        Assert.All(Parse(cdisc.Content.ToByteArray()).Rows, r => Assert.Equal("UAT", r["TRIALMOD"]));
    }

    [ProviderFact]
    public async Task BlindedExport_PhaseOne_OpenLabelDosesUntilTheRandomizedPhaseBegins()
    {
        await using var server = NewServerWithPhaseOne(TrialServer.WithoutPhaseOneGate);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var enrolled = (await new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM")).EnrollInCohortAsync(new EnrollInCohortRequest
            { RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = "C1-0", Eligibility = Requests.Eligible() })).Assignment;

        var during = Parse((await Exports(server, TrialRole.Monitor).ExportParticipantsAsync(Blinded())).Content.ToByteArray()).Rows;
        var randomized = (await server.Site().RandomizeAsync(Requests.Randomize("R-001"))).Assignment;
        var after = await Exports(server, TrialRole.Monitor).ExportParticipantsAsync(Blinded(ExportFormat.Cdisc));
        var afterRows = Parse(after.Content.ToByteArray()).Rows;
        var final = await ApprovedAsync(server, UnblindingScope.Final);
        var unblinded = Parse((await Exports(server, TrialRole.Statistician, "stat-1").ExportParticipantsAsync(Unblinded(final))).Content.ToByteArray()).Rows;

        var phaseOne = Assert.Single(during);
        Assert.Equal((enrolled.ParticipantId, "PHASE I", "1", "20 million allo-hMSCs", ""), (phaseOne["participant_id"], phaseOne["phase"], phaseOne["cohort"], phaseOne["cohort_dose"], phaseOne["randomization_number"]));
        Assert.Equal(["PHASE I", "PHASE II"], afterRows.Select(r => r["PHASE"]));
        Assert.Equal(("1", ""), (afterRows[0]["COHORT"], afterRows[0]["COHDOSE"]));
        Assert.Equal(randomized.RandomizationNumber, afterRows[1]["RANDNUM"]);
        Assert.DoesNotMatch(BlindingTests.Treatment(), after.Content.ToStringUtf8());
        Assert.Equal("20 million allo-hMSCs", unblinded[0]["cohort_dose"]);
        Assert.Equal("", unblinded[0]["arm_code"]);
        Assert.Equal(await ArmOf(server, randomized.ParticipantId), unblinded[1]["arm_code"]);
    }
}

public sealed class ExportTestsOnSqlite : ExportTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ExportTestsOnPostgreSql : ExportTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ExportTestsOnSqlServer : ExportTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
