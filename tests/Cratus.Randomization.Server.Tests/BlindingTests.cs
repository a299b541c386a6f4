using System.Text.RegularExpressions;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The blind, checked the way an auditor would: a whole simulated Phase II, every role, every reply, the logs and the database file.</summary>
public abstract partial class BlindingTests : OnEachDatabase
{
    private static readonly (string, string)[] TwoSites =
    [
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"),
    ];

    // An arm letter in context ("arm A", "arm: B", "armCode": "C", "Arm C"), a dose, a cell count, placebo.
    [GeneratedRegex("""(?i)\barm[\s"':=_]*(code)?[\s"':=]*[ABC]\b|placebo|million|\bhMSCs?\b|\b[12]?00[,.]?000[,.]?000\b|cellCount|cell_count""")]
    internal static partial Regex Treatment();

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task SimulatedPhaseTwo_NoBlindedReplyErrorOrLogLineRevealsAnArm()
    {
        // The detector itself catches what it is for, and lets pass what is harmless.
        foreach (var leak in new[] { "\"armCode\": \"A\"", "arm C", "Arm: B", "matched placebo", "100 million", "200,000,000", "100000000", "\"cellCount\"", "allo-hMSCs" })
            Assert.Matches(Treatment(), leak);
        foreach (var harmless in new[] { "R01-001", "P-4TABMY0XCA", "alarm", "participant.randomized", "K-AG8WRYABGC", "K-XDHMSC0D1E" })
            Assert.DoesNotMatch(Treatment(), harmless);

        await using var server = NewServer(TwoSites);
        var blindedText = new List<string>();
        void Blinded(IMessage reply) => blindedText.Add(JsonFormatter.Default.Format(reply));
        async Task BlindedError(Func<Task> call)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            blindedText.Add(error.Status.Detail);
        }

        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var pharmacy = server.Pharmacy();
        var armOf = new Dictionary<string, string>();
        var assignments = new List<BlindedAssignment>();
        var n = 0;
        foreach (var (site, count) in new[] { ("UM", 18), ("JH", 12) })
        {
            var coordinator = server.Site(site);
            for (var i = 0; i < count; i++, n++)
            {
                var request = Requests.Randomize($"S{n:D3}", n % 5 < 3 ? Sex.Male : Sex.Female, site);
                var reply = await coordinator.RandomizeAsync(request);
                Blinded(reply);
                Blinded(await coordinator.RandomizeAsync(request)); // a retry
                Blinded(await coordinator.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = reply.Assignment.ParticipantId }));
                await BlindedError(() => coordinator.RandomizeAsync(Requests.Randomize($"S{n:D3}", Sex.Male, site)).ResponseAsync);
                await BlindedError(() => new PharmacyService.PharmacyServiceClient(server.Channel(TrialRole.SiteCoordinator, site))
                    .GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId }).ResponseAsync);
                armOf[reply.Assignment.ParticipantId] = (await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId })).ArmCode;
                assignments.Add(reply.Assignment);
            }
        }
        // Ineligible and malformed requests, the trial view, the commitment, for every blinded role.
        var ineligible = Requests.Randomize("S999");
        ineligible.Eligibility.MmseScore = 10;
        await BlindedError(() => server.Site().RandomizeAsync(ineligible).ResponseAsync);
        await BlindedError(() => server.Site().RandomizeAsync(new RandomizeRequest()).ResponseAsync);
        await BlindedError(() => server.Site().RandomizeAsync(Requests.Randomize("S998")).ResponseAsync); // target reached
        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Monitor, TrialRole.Administrator, TrialRole.DsmbMember })
        {
            var trial = new TrialService.TrialServiceClient(server.Channel(role, "UM"));
            Blinded(await trial.GetTrialAsync(new GetTrialRequest()));
            Blinded(await trial.GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest()));
        }
        var monitorAudit = new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor));
        Blinded(await monitorAudit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 }));
        Blinded(await monitorAudit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest()));
        Blinded(await new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator)).ListSitesAsync(new ListSitesRequest()));
        // The statisticians' controlled unblinding happens too; its events are in the trail the monitor reads.
        var unblinding = (await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-1"))).RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = "interim" })).Request;
        await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-2"))).ApproveUnblindingAsync(
            new ApproveUnblindingRequest { UnblindingId = unblinding.UnblindingId, Reason = "ok" });
        Blinded(await monitorAudit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500, PageToken = "60" }));

        foreach (var text in blindedText)
            Assert.False(Treatment().IsMatch(text), $"a blinded caller saw: {text}");
        var log = ReadLogs(server);
        Assert.Contains("Randomized participant", log, StringComparison.Ordinal);
        Assert.False(Treatment().IsMatch(log), $"the log holds a treatment: {Treatment().Match(log).Value}");

        // Same fields, same size, whatever the arm (all participants here are within one site's id lengths).
        Assert.Equal(3, armOf.Values.Distinct().Count());
        var sizes = assignments.GroupBy(a => armOf[a.ParticipantId]).ToDictionary(g => g.Key, g => g.Select(a => a.CalculateSize()).Distinct().ToList());
        Assert.All(sizes.Values, s => Assert.Equal(sizes["A"], s));
        Assert.Single(sizes["A"]);
    }

    private static string ReadLogs(TrialServer server) => string.Concat(Directory.GetFiles(server.LogFolder).Select(f =>
    {
        using var reader = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd();
    }));

    [ProviderFact]
    public async Task DatabaseFile_HoldsNoArmSeedOrBlockSizeInTheClear()
    {
        await using var server = NewServer();
        var receipt = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"));

        var sealedArms = await QueryAsync(server, """SELECT "ArmSealed" FROM "ScheduleEntries" """);
        var schedule = await QueryAsync(server, server.Database == TestDatabase.SqlServer
            ? """SELECT CONCAT(coalesce("SeedSealed", ''), ' ', "BlockSizesSealed") FROM "Schedules" """
            : """SELECT coalesce("SeedSealed", '') || ' ' || "BlockSizesSealed" FROM "Schedules" """);
        // Everything a person reading the database sees: every text column of every table.
        var everything = string.Join("\n", (await server.QueryAsync("""SELECT * FROM "Schedules" """))
            .Concat(await server.QueryAsync("""SELECT * FROM "ScheduleEntries" """))
            .Concat(await server.QueryAsync("""SELECT * FROM "Participants" """))
            .Concat(await server.QueryAsync("""SELECT * FROM "AuditEvents" """))
            .SelectMany(row => row).Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)));
        if (server.Database == TestDatabase.Sqlite)
        {
            // And the raw file, pages and write-ahead log included.
            var bytes = await File.ReadAllBytesAsync(server.DatabaseLocation);
            var wal = File.Exists(server.DatabaseLocation + "-wal") ? await File.ReadAllBytesAsync(server.DatabaseLocation + "-wal") : [];
            everything += System.Text.Encoding.Latin1.GetString([.. bytes, .. wal]);
        }

        Assert.InRange(sealedArms.Count, 60, 70);
        Assert.All(sealedArms, a => Assert.StartsWith("k1:", a, StringComparison.Ordinal));
        Assert.Single(sealedArms.Select(a => a.Length).Distinct());
        Assert.Equal(sealedArms.Count, sealedArms.Distinct().Count());
        Assert.DoesNotContain(receipt.SeedHex, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("placebo", everything, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("3,6", schedule.Single(), StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task SealedArm_MovedToAnotherEntry_FailsItsIntegrityCheckInsteadOfUnblindingWrongly()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var participant = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment;
        Assert.Equal(1, await server.ExecuteSqlAsync("""UPDATE "ScheduleEntries" SET "ArmSealed" = (SELECT "ArmSealed" FROM "ScheduleEntries" WHERE "Sequence" = 2 AND "Stratum" = 'UM/F') WHERE "Sequence" = 1 AND "Stratum" = 'UM/F'"""));

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participant.ParticipantId }).ResponseAsync);

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
    }

    private static async Task<List<string>> QueryAsync(TrialServer server, string sql) =>
        [.. (await server.QueryAsync(sql)).Select(row => (string)row[0]!)];
}

public abstract class KeyRotationTests : OnEachDatabase
{
    [ProviderFact]
    public async Task Restart_WithANewActiveKey_ResealsEverythingSoTheOldKeyCanBeRetired()
    {
        string oldKey, participantId, arm;
        var newKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using var first = NewServer();
        var database = first.DatabaseLocation;
        {
            oldKey = first.EncryptionKey;
            await first.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
            participantId = (await first.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment.ParticipantId;
            arm = (await first.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId })).ArmCode;
            await first.StopAsync();
        }

        await using (var rotating = NewServer(false, new Dictionary<string, string>
        {
            ["Database:Reuse"] = database,
            ["Encryption:Keys:k1"] = oldKey,
            ["Encryption:Keys:k2"] = newKey,
            ["Encryption:ActiveKeyId"] = "k2",
        }))
        {
            var resealed = await new AuditService.AuditServiceClient(rotating.Channel(TrialRole.Monitor))
                .ListAuditEventsAsync(new ListAuditEventsRequest { Action = "schedule.resealed" });
            Assert.Equal("encryption key rotation", Assert.Single(resealed.Events).Reason);
        }

        await using var retired = NewServer(false, new Dictionary<string, string>
        {
            ["Database:Reuse"] = database,
            ["Encryption:Keys:k1"] = newKey, // the old key is gone; k1 now names nothing the data was sealed with
            ["Encryption:Keys:k2"] = newKey,
            ["Encryption:ActiveKeyId"] = "k2",
        });
        var order = await retired.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId });
        var allocations = await new AuditService.AuditServiceClient(retired.Channel(TrialRole.Monitor)).VerifyAllocationsAsync(new VerifyAllocationsRequest());
        var verification = await new AuditService.AuditServiceClient(retired.Channel(TrialRole.Monitor)).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        Assert.Equal(arm, order.ArmCode);
        Assert.True(allocations.Intact);
        foreach (var sql in new[]
        {
            """SELECT COUNT(*) FROM "ScheduleEntries" WHERE "ArmSealed" NOT LIKE 'k2:%' OR "EntrySeal" NOT LIKE 'k2:%'""",
            """SELECT COUNT(*) FROM "Participants" WHERE "AllocationSeal" NOT LIKE 'k2:%'""",
        })
        {
            var left = await retired.QueryAsync(sql);
            Assert.Equal(0L, Convert.ToInt64(left[0][0], System.Globalization.CultureInfo.InvariantCulture));
        }
        // History is never re-MACed: the events written under the old key need it to verify, so it stays in the ring.
        Assert.False(verification.Intact);
        Assert.Equal(1, verification.FirstBrokenSequence);
        Assert.Contains("forged or altered", verification.Problem, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Restart_WithANewActiveKeyAndTheOldOneKept_VerifiesEventsUnderBothKeys()
    {
        var newKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using var first = NewServer();
        await first.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        await first.Site().RandomizeAsync(Requests.Randomize("SCR-1"));
        await first.StopAsync();

        await using var rotated = NewServer(false, new Dictionary<string, string>
        {
            ["Database:Reuse"] = first.DatabaseLocation,
            ["Encryption:Keys:k1"] = first.EncryptionKey,
            ["Encryption:Keys:k2"] = newKey,
            ["Encryption:ActiveKeyId"] = "k2",
        });
        await rotated.Site().RandomizeAsync(Requests.Randomize("SCR-2"));
        var audit = new AuditService.AuditServiceClient(rotated.Channel(TrialRole.Monitor));
        var events = (await audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        var verification = await audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var allocations = await audit.VerifyAllocationsAsync(new VerifyAllocationsRequest());

        Assert.True(verification.Intact, verification.Problem);
        Assert.True(allocations.Intact);
        // Under k1: the statistician's re-authentication, the signed generation, a randomization; under k2: the resealing, a randomization.
        Assert.Equal(["k1", "k1", "k1", "k2", "k2"], events.Select(e => e.KeyId));
    }
}

public sealed class BlindingTestsOnSqlite : BlindingTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class BlindingTestsOnPostgreSql : BlindingTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class BlindingTestsOnSqlServer : BlindingTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}

public sealed class KeyRotationTestsOnSqlite : KeyRotationTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class KeyRotationTestsOnPostgreSql : KeyRotationTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class KeyRotationTestsOnSqlServer : KeyRotationTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
