using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Rows of allocations and of the schedule changed behind the service's back (as a person with write access to the
/// database file could): every read of a changed allocation fails closed with DATA_LOSS, and VerifyAllocations names
/// exactly the rows concerned, never an arm.
/// </summary>
public abstract class AllocationIntegrityTests : OnEachDatabase
{
    /// <summary>Four women randomized at UM (stratum UM/F, sequences 1 to 4, screening ids SCR-0 to SCR-3).</summary>
    private async Task<(TrialServer Server, string[] Participants)> ServerWithFourRandomizedAsync()
    {
        var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var participants = new string[4];
        for (var i = 0; i < 4; i++)
            participants[i] = (await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}"))).Assignment.ParticipantId;
        return (server, participants);
    }

    private static async Task<long> ScalarAsync(TrialServer server, string sql) =>
        Convert.ToInt64((await server.QueryAsync(sql)).Single()[0], CultureInfo.InvariantCulture);

    private static Task<long> EntryIdAsync(TrialServer server, string stratum, int sequence) =>
        ScalarAsync(server, $"""SELECT "Id" FROM "ScheduleEntries" WHERE "Stratum" = '{stratum}' AND "Sequence" = {sequence}""");

    private static Task<long> EntryOfAsync(TrialServer server, string screeningId) =>
        ScalarAsync(server, $"""SELECT "ScheduleEntryId" FROM "Participants" WHERE "ScreeningId" = '{screeningId}'""");

    private static async Task<StatusCode> StatusOfAsync(Func<Task> call)
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

    private static AuditService.AuditServiceClient Audit(TrialServer server, TrialRole role = TrialRole.Monitor) => new(server.Channel(role));

    private static string ReadLogs(TrialServer server) => string.Concat(Directory.GetFiles(server.LogFolder).Select(f =>
    {
        using var reader = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd();
    }));

    /// <summary>The tampering, as SQL (placeholders filled in from the database), and which of SCR-0..3 (or the
    /// copy) it affects.</summary>
    public static TheoryData<string, string[]> Tampering => new()
    {
        // Exchange two participants' links to their entries (through a free entry, as the unique index requires).
        { "swap", ["SCR-1", "SCR-2"] },
        // Point a participant at an entry nobody has used.
        { "move", ["SCR-3"] },
        { "edit stratum", ["SCR-2"] },
        { "edit number", ["SCR-0"] },
        // Insert a copy of a participant row (new ids, the next free entry, the same seal).
        { "copy a row", ["COPY"] },
        // Copy one entry's sealed arm over another's.
        { "copy a sealed arm", ["SCR-1"] },
    };

    private static async Task TamperAsync(TrialServer server, string tampering)
    {
        var free = await EntryIdAsync(server, "UM/F", 5);
        string sql = tampering switch
        {
            "swap" => $"""
                UPDATE "Participants" SET "ScheduleEntryId" = {free} WHERE "ScreeningId" = 'SCR-1';
                UPDATE "Participants" SET "ScheduleEntryId" = {await EntryOfAsync(server, "SCR-1")} WHERE "ScreeningId" = 'SCR-2';
                UPDATE "Participants" SET "ScheduleEntryId" = {await EntryOfAsync(server, "SCR-2")} WHERE "ScreeningId" = 'SCR-1'
                """,
            "move" => $"""UPDATE "Participants" SET "ScheduleEntryId" = {free} WHERE "ScreeningId" = 'SCR-3'""",
            "edit stratum" => """UPDATE "Participants" SET "Stratum" = 'UM/M' WHERE "ScreeningId" = 'SCR-2'""",
            "edit number" => $"""UPDATE "ScheduleEntries" SET "RandomizationNumber" = 'R99-999' WHERE "Id" = {await EntryOfAsync(server, "SCR-0")}""",
            // SQL Server: "Id" is an identity column, which a copy leaves out and the insert numbers anew.
            "copy a row" when server.Database == TestDatabase.SqlServer => $"""
                SELECT * INTO #copy FROM "Participants" WHERE "ScreeningId" = 'SCR-0';
                ALTER TABLE #copy DROP COLUMN "Id";
                UPDATE #copy SET "ParticipantId" = 'P-COPY0COPY0', "ScreeningId" = 'COPY',
                    "RequestId" = 'copied-request', "ProductCode" = 'K-COPY0COPY0', "StratumSequence" = 5, "ScheduleEntryId" = {free};
                INSERT INTO "Participants" SELECT * FROM #copy
                """,
            "copy a row" => $"""
                CREATE TEMPORARY TABLE "copy" AS SELECT * FROM "Participants" WHERE "ScreeningId" = 'SCR-0';
                UPDATE "copy" SET "Id" = (SELECT MAX("Id") + 1 FROM "Participants"), "ParticipantId" = 'P-COPY0COPY0', "ScreeningId" = 'COPY',
                    "RequestId" = 'copied-request', "ProductCode" = 'K-COPY0COPY0', "StratumSequence" = 5, "ScheduleEntryId" = {free};
                INSERT INTO "Participants" SELECT * FROM "copy"
                """,
            "copy a sealed arm" => $"""
                UPDATE "ScheduleEntries" SET "ArmSealed" = (SELECT "ArmSealed" FROM "ScheduleEntries" WHERE "Id" = {await EntryOfAsync(server, "SCR-0")})
                WHERE "Id" = {await EntryOfAsync(server, "SCR-1")}
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(tampering)),
        };
        Assert.True(await server.ExecuteSqlAsync(sql) > 0, sql);
    }

    [ProviderTheory]
    [MemberData(nameof(Tampering))]
    public async Task Reads_AllocationChangedInTheDatabase_FailClosedAndVerificationNamesIt(string tampering, string[] affectedScreeningIds)
    {
        var (server, participants) = await ServerWithFourRandomizedAsync();
        await using var _ = server;
        await TamperAsync(server, tampering);
        var ids = participants.Select((p, i) => (ScreeningId: $"SCR-{i}", ParticipantId: p)).Append(("COPY", "P-COPY0COPY0")).ToDictionary(x => x.Item1, x => x.Item2);
        var affected = affectedScreeningIds.Select(s => ids[s]).ToList();
        var untouched = participants.Except(affected).ToList();

        var assignmentReads = new List<StatusCode>();
        var doseOrderReads = new List<StatusCode>();
        var emergencyReads = new List<StatusCode>();
        foreach (var participant in affected)
        {
            assignmentReads.Add(await StatusOfAsync(() => server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = participant }).ResponseAsync));
            doseOrderReads.Add(await StatusOfAsync(() => server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participant }).ResponseAsync));
            emergencyReads.Add(await StatusOfAsync(() => new UnblindingService.UnblindingServiceClient(server.Channel(TrialRole.Investigator, "UM"))
                .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = participant, Reason = "anaphylaxis" }).ResponseAsync));
        }
        var untouchedReads = new List<StatusCode>();
        foreach (var participant in untouched)
            untouchedReads.Add(await StatusOfAsync(() => server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participant }).ResponseAsync));
        var verification = await Audit(server).VerifyAllocationsAsync(new VerifyAllocationsRequest());

        Assert.All(assignmentReads, s => Assert.Equal(StatusCode.DataLoss, s));
        Assert.All(doseOrderReads, s => Assert.Equal(StatusCode.DataLoss, s));
        Assert.All(emergencyReads, s => Assert.Equal(StatusCode.DataLoss, s));
        Assert.All(untouchedReads, s => Assert.Equal(StatusCode.OK, s));
        Assert.False(verification.Intact);
        Assert.Equal(affected.Order(), verification.Problems.Where(p => p.ParticipantId.Length > 0).Select(p => p.ParticipantId).Order());
        Assert.Equal(untouched.Count + affected.Count, verification.ParticipantsChecked);
        foreach (var problem in verification.Problems)
        {
            Assert.DoesNotContain("placebo", problem.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", problem.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(@"\b[ABC]\b", problem.Problem);
        }
        var logs = ReadLogs(server);
        Assert.All(affected, p => Assert.Contains(logs.Split('\n'), line =>
            line.Contains("SECURITY: the stored allocation of participant", StringComparison.Ordinal) && line.Contains($"\"ParticipantId\":\"{p}\"", StringComparison.Ordinal)));
    }

    [ProviderFact]
    public async Task VerifyAllocations_EditedEntriesNameTheEntryAndItsParticipant()
    {
        var (server, participants) = await ServerWithFourRandomizedAsync();
        await using var _ = server;
        await server.ExecuteSqlAsync($"""UPDATE "ScheduleEntries" SET "RandomizationNumber" = 'R99-999' WHERE "Id" = {await EntryOfAsync(server, "SCR-0")}""");

        var verification = await Audit(server, TrialRole.Statistician).VerifyAllocationsAsync(new VerifyAllocationsRequest());

        Assert.Equal(2, verification.Failures);
        Assert.Contains(verification.Problems, p => p.ParticipantId == participants[0] && p.Stratum == "UM/F" && p.Sequence == 1);
        Assert.Contains(verification.Problems, p => p.ParticipantId.Length == 0 && p.Stratum == "UM/F" && p.Sequence == 1);
    }

    [ProviderFact]
    public async Task Randomize_NextEntryEditedBeforeUse_IsRefusedWithDataLossAndNothingIsAllocated()
    {
        var (server, _) = await ServerWithFourRandomizedAsync();
        await using var __ = server;
        await server.ExecuteSqlAsync("""UPDATE "ScheduleEntries" SET "RandomizationNumber" = 'R99-999' WHERE "Stratum" = 'UM/F' AND "Sequence" = 5""");

        var refused = await StatusOfAsync(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-4")).ResponseAsync);
        var verification = await Audit(server).VerifyAllocationsAsync(new VerifyAllocationsRequest());
        var stored = await ScalarAsync(server, """SELECT COUNT(*) FROM "Participants" """);

        Assert.Equal(StatusCode.DataLoss, refused);
        Assert.Equal(4, stored);
        var problem = Assert.Single(verification.Problems);
        Assert.Equal(("", "UM/F", 5), (problem.ParticipantId, problem.Stratum, problem.Sequence));
        Assert.Contains(ReadLogs(server).Split('\n'), line =>
            line.Contains("SECURITY: schedule entry", StringComparison.Ordinal) && line.Contains("\"ScheduleEntry\":\"UM/F#5\"", StringComparison.Ordinal));
    }

    [ProviderFact]
    public async Task VerifyAllocations_UntouchedTrial_IsIntactAndCountsEveryRow()
    {
        var (server, _) = await ServerWithFourRandomizedAsync();
        await using var __ = server;
        var entries = await ScalarAsync(server, """SELECT COUNT(*) FROM "ScheduleEntries" """);

        var verification = await Audit(server).VerifyAllocationsAsync(new VerifyAllocationsRequest());

        Assert.True(verification.Intact);
        Assert.Equal(0, verification.Failures);
        Assert.Equal(4, verification.ParticipantsChecked);
        Assert.Equal(entries, verification.ScheduleEntriesChecked);
    }

    [ProviderFact]
    public async Task GetDoseOrder_PhaseOneCohortEditedInTheDatabase_FailsClosed()
    {
        await using var server = NewServerWithPhaseOne();
        var escalation = new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"));
        var enrolled = (await escalation.EnrollInCohortAsync(new EnrollInCohortRequest
        {
            RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = "C1-1", Eligibility = Requests.Eligible(),
        })).Assignment;
        await server.ExecuteSqlAsync($"""UPDATE "Participants" SET "Cohort" = 3 WHERE "ParticipantId" = '{enrolled.ParticipantId}'""");

        var doseOrder = await StatusOfAsync(() => server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = enrolled.ParticipantId }).ResponseAsync);
        var verification = await Audit(server).VerifyAllocationsAsync(new VerifyAllocationsRequest());

        Assert.Equal(StatusCode.DataLoss, doseOrder);
        Assert.Equal(enrolled.ParticipantId, Assert.Single(verification.Problems).ParticipantId);
        Assert.Equal(1, verification.CohortEnrolmentsChecked);
    }
}

public sealed class AllocationIntegrityTestsOnSqlite : AllocationIntegrityTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class AllocationIntegrityTestsOnPostgreSql : AllocationIntegrityTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class AllocationIntegrityTestsOnSqlServer : AllocationIntegrityTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
