using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Tests;

/// <summary>Schedule amendments through real gRPC: a site added to a running trial, the commitment chain, what is refused.</summary>
public abstract class AmendmentTests : OnEachDatabase
{
    private static Task<AmendScheduleResponse> AmendAsync(TrialServer server, string site = "NEW", string? csv = null) =>
        server.Statistician().AmendScheduleAsync(new AmendScheduleRequest
        {
            SiteCode = site,
            SiteName = "New Site Hospital",
            Csv = csv is null ? ByteString.Empty : ByteString.CopyFromUtf8(csv),
            Reason = "protocol amendment 2: second site",
        }).ResponseAsync;

    private static string ReasonOf(RpcException error) => error.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>()!.Reason;

    private static async Task<List<string>> ScheduleRowsAsync(TrialServer server) =>
        [.. (await server.QueryAsync("""SELECT "Id", "Stratum", "Sequence", "RandomizationNumber", "ArmSealed", "EntrySeal" FROM "ScheduleEntries" ORDER BY "Id" """))
            .Select(r => string.Join('|', r.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))))];

    private static async Task<List<string>> AllocationsAsync(TrialServer server, IEnumerable<string> participants)
    {
        var arms = new List<string>();
        foreach (var p in participants)
        {
            var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = p });
            arms.Add($"{p}:{order.RandomizationNumber}:{order.ArmCode}");
        }
        return arms;
    }

    [ProviderFact]
    public async Task AmendSchedule_AfterRandomizationBegan_AddsTheSiteAndChangesNoAllocation()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var participants = new List<string>();
        for (var i = 1; i <= 4; i++)
            participants.Add((await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i:D3}", i % 2 == 0 ? Sex.Male : Sex.Female))).Assignment.ParticipantId);
        var rowsBefore = await ScheduleRowsAsync(server);
        var allocationsBefore = await AllocationsAsync(server, participants);

        var receipt = await AmendAsync(server);

        Assert.Equal(rowsBefore, (await ScheduleRowsAsync(server)).Take(rowsBefore.Count));
        Assert.Equal(allocationsBefore, await AllocationsAsync(server, participants));
        var verification = await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).VerifyAllocationsAsync(new VerifyAllocationsRequest());
        Assert.True(verification.Intact);
        Assert.Equal(rowsBefore.Count + receipt.Strata.Sum(s => s.Entries), verification.ScheduleEntriesChecked);
        Assert.Equal(["NEW/F", "NEW/M"], receipt.Strata.Select(s => s.Stratum));
        Assert.Equal([3, 4], receipt.Strata.Select(s => s.Ordinal));
        Assert.Equal(64, receipt.SeedHex.Length);

        // The new site randomizes from its own lists; UM goes on where it was.
        var atNew = await server.Site("NEW").RandomizeAsync(Requests.Randomize("NEW-001", Sex.Female, site: "NEW"));
        var atUm = await server.Site().RandomizeAsync(Requests.Randomize("SCR-005", Sex.Female));
        Assert.Equal("R03-001", atNew.Assignment.RandomizationNumber);
        Assert.Equal("R01-003", atUm.Assignment.RandomizationNumber); // two women were randomized at UM before
        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());
        Assert.Equal(1, trial.Sites.Single(s => s.SiteCode == "NEW").RandomizedParticipants);
    }

    [ProviderFact]
    public async Task AmendSchedule_CommitmentChain_VerifiesAndTheOldDigestStaysReproducible()
    {
        await using var server = NewServer();
        var generated = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-001"));

        var first = await AmendAsync(server, "NEW");
        var second = await AmendAsync(server, "THIRD");
        var published = await server.Trial(TrialRole.SiteCoordinator).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());

        var chain = published.Chain.Select(l => new Domain.ScheduleCommitmentLink(l.Sha256Hex, l.CanonicalForm,
            l.PreviousSha256Hex.Length == 0 ? null : l.PreviousSha256Hex, l.SiteCode.Length == 0 ? null : l.SiteCode)).ToList();
        Assert.Empty(Domain.ScheduleCommitmentChain.Breaks(chain));
        Assert.Equal([generated.Sha256Hex, first.Sha256Hex, second.Sha256Hex], published.Chain.Select(l => l.Sha256Hex));
        Assert.Equal(second.Sha256Hex, published.Sha256Hex);
        Assert.Equal(Domain.ScheduleAmendments.CanonicalFormName, published.CanonicalForm);
        Assert.Equal(first.Sha256Hex, second.PreviousSha256Hex);
        Assert.Equal([5, 6], second.Strata.Select(s => s.Ordinal));

        // Each digest is reproduced from its receipt: the original's from its seed, each amendment's from its own.
        var definition = Domain.TrialDefinition.Parse(File.ReadAllText(Path.Combine(server.Folder, "trial.json")));
        var original = Domain.ScheduleGenerator.Generate(definition, Convert.FromHexString(generated.SeedHex), [.. generated.BlockSizes]);
        Assert.Equal(generated.Sha256Hex, Domain.ScheduleCommitment.Compute(definition, Convert.FromHexString(generated.SaltHex), original.Entries));
        foreach (var receipt in new[] { first, second })
        {
            var strata = receipt.Strata.Select(s => new Domain.Stratum(s.Stratum, s.Ordinal)).ToList();
            var lists = Domain.ScheduleGenerator.GenerateStrata(definition.RandomizedPhase, Convert.FromHexString(receipt.SeedHex), [.. receipt.BlockSizes], strata, receipt.OrdinalWidth);
            Assert.Equal(receipt.Sha256Hex, Domain.ScheduleAmendments.Commitment(definition.TrialId, receipt.PreviousSha256Hex, receipt.SiteCode,
                Convert.FromHexString(receipt.SaltHex), strata, lists.Entries));
        }
        // A chain with a link edited out does not hold.
        Assert.NotEmpty(Domain.ScheduleCommitmentChain.Breaks([chain[0], chain[2]]));
    }

    [ProviderFact]
    public async Task AmendSchedule_ImportedList_IsCheckedAsAnImportAndUsed()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var csv = new StringBuilder("stratum,sequence,randomization_number,arm\n");
        var pattern = new[] { "A", "C", "B", "B", "A", "C" };
        foreach (var (stratum, prefix) in new[] { ("NEW/F", "NF"), ("NEW/M", "NM") })
            for (var i = 1; i <= 30; i++) csv.Append(CultureInfo.InvariantCulture, $"{stratum},{i},{prefix}-{i:D3}X,{pattern[(i - 1) % 6]}\n");

        var unbalanced = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server, csv: csv.ToString().Replace("NEW/F,1,NF-001X,A", "NEW/F,1,NF-001X,B", StringComparison.Ordinal)));
        var wrongStratum = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server, csv: csv.ToString().Replace("NEW/M,", "UM/M,", StringComparison.Ordinal)));
        var afterRefusals = await server.QueryAsync("""SELECT (SELECT COUNT(*) FROM "Schedules"), (SELECT COUNT(*) FROM "Sites" WHERE "Code" = 'NEW')""");
        var receipt = await AmendAsync(server, csv: csv.ToString());
        var randomized = await server.Site("NEW").RandomizeAsync(Requests.Randomize("NEW-001", Sex.Male, site: "NEW"));

        Assert.Equal(StatusCode.InvalidArgument, unbalanced.StatusCode);
        Assert.Contains("nothing was stored", unbalanced.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, wrongStratum.StatusCode);
        Assert.Equal(1L, Convert.ToInt64(afterRefusals[0][0], CultureInfo.InvariantCulture));
        Assert.Equal(0L, Convert.ToInt64(afterRefusals[0][1], CultureInfo.InvariantCulture));
        Assert.Equal("", receipt.SeedHex);
        Assert.Equal("NM-001X", randomized.Assignment.RandomizationNumber);
    }

    [ProviderFact]
    public async Task AmendSchedule_Refusals_SayWhy()
    {
        await using var server = NewServer();

        var beforeSchedule = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server));
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var existing = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server, "UM"));
        await AmendAsync(server, "NEW");
        var twice = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server, "NEW"));
        var badCode = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server, "no spaces allowed"));
        var unsigned = await Assert.ThrowsAsync<RpcException>(() => new ScheduleService.ScheduleServiceClient(server.Channel(TrialRole.Statistician))
            .AmendScheduleAsync(new AmendScheduleRequest { SiteCode = "OTHER", SiteName = "Other", Reason = "r", Signature = new ElectronicSignature() }).ResponseAsync);
        var administrator = await Assert.ThrowsAsync<RpcException>(() => new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator))
            .CreateSiteAsync(new CreateSiteRequest { Code = "LATE", Name = "Late", Reason = "r" }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, beforeSchedule.StatusCode);
        Assert.Contains("SCHEDULE_NOT_IN_PLACE", ReasonOf(beforeSchedule), StringComparison.Ordinal);
        Assert.Contains("administrator adds the site", beforeSchedule.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.AlreadyExists, existing.StatusCode);
        Assert.Contains("SITE_EXISTS", ReasonOf(existing), StringComparison.Ordinal);
        Assert.Equal(StatusCode.AlreadyExists, twice.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, badCode.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, unsigned.StatusCode);
        Assert.Contains("schedule amendment by the trial statistician", administrator.Status.Detail, StringComparison.Ordinal);
        var parts = await server.QueryAsync("""SELECT COUNT(*) FROM "Schedules" """);
        Assert.Equal(2L, Convert.ToInt64(parts[0][0], CultureInfo.InvariantCulture));
    }

    [ProviderFact]
    public async Task AmendSchedule_NotStratifiedBySite_IsRefusedWithTheReason()
    {
        await using var server = NewServer(("\"stratificationFactors\": [\"Site\", \"Sex\"]", "\"stratificationFactors\": [\"Sex\"]"));
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });

        var error = await Assert.ThrowsAsync<RpcException>(() => AmendAsync(server));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("SCHEDULE_AMENDMENT_NOT_APPLICABLE", ReasonOf(error), StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task GetScheduleCommitment_AfterAnAmendment_TellsBlindedCallersDigestsAndSiteCodesOnly()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        await AmendAsync(server);

        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Monitor, TrialRole.Administrator, TrialRole.DsmbMember, TrialRole.SiteSystem })
        {
            var reply = await new TrialService.TrialServiceClient(server.Channel(role, "UM")).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
            Assert.Equal(2, reply.Chain.Count);
            foreach (var link in reply.Chain)
            {
                Assert.Matches("^[0-9a-f]{64}$", link.Sha256Hex);
                Assert.Matches("^([0-9a-f]{64})?$", link.PreviousSha256Hex);
                Assert.Contains(link.SiteCode, new[] { "", "NEW" });
            }
            var text = reply.ToString();
            foreach (var word in new[] { "placebo", "million", "seed", "salt", "block", "\"A\"", "ratio", "arm" })
                Assert.DoesNotContain(word, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    [ProviderFact]
    public async Task Start_WithTheRatioArmsOrTargetChangedUnderARunningSchedule_IsRefusedWithTheReason()
    {
        // The first server owns the database: it stays undisposed (only stopped) while the others reuse it.
        await using var first = NewServer();
        await first.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        await first.Site().RandomizeAsync(Requests.Randomize("SCR-001"));
        await first.StopAsync();
        var reuse = new Dictionary<string, string> { ["Database:Reuse"] = first.DatabaseLocation, ["Encryption:Keys:k1"] = first.EncryptionKey };

        var target = Assert.ThrowsAny<Exception>(() => NewServer(false, reuse, ("\"targetParticipants\": 30", "\"targetParticipants\": 60")));
        var ratio = Assert.ThrowsAny<Exception>(() => NewServer(false, reuse,
            ("\"placebo\": true, \"ratio\": 1", "\"placebo\": true, \"ratio\": 2"), ("\"blockSizes\": [3, 6]", "\"blockSizes\": [4, 8]")));
        var site = Assert.ThrowsAny<Exception>(() => NewServer(false, reuse,
            ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
             "{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }, { \"code\": \"LATE\", \"name\": \"Late\" }")));
        await using var unchanged = NewServer(false, reuse);

        Assert.Contains("target number of participants", Describe(target), StringComparison.Ordinal);
        Assert.Contains("a new trial version", Describe(target), StringComparison.Ordinal);
        Assert.Contains("allocation ratio", Describe(ratio), StringComparison.Ordinal);
        Assert.DoesNotContain("target", Describe(ratio), StringComparison.Ordinal);
        Assert.Contains("site LATE", Describe(site), StringComparison.Ordinal);
        Assert.Equal(1, (await unchanged.Trial().GetTrialAsync(new GetTrialRequest())).RandomizedParticipants);
    }

    private static string Describe(Exception failure) => StartupFailure.Describe(failure).Line;

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task ReproduceScript_ReproducesTheOriginalAndTheAmendedCommitments()
    {
        await using var server = NewServer();
        var generated = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-001"));
        var amended = await AmendAsync(server);
        var published = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        var blocks = string.Join(',', generated.BlockSizes);

        var original = await PythonAsync(generated.SeedHex, "30", blocks, "UM/F", "UM/M", "--commitment", "CRATUS", "--salt", generated.SaltHex);
        var amendment = await PythonAsync([amended.SeedHex, "30", blocks, .. amended.Strata.Select(s => s.Stratum),
            "--first-ordinal", amended.Strata[0].Ordinal.ToString(CultureInfo.InvariantCulture), "--ordinal-width", amended.OrdinalWidth.ToString(CultureInfo.InvariantCulture),
            "--commitment", "CRATUS", "--salt", amended.SaltHex, "--previous", amended.PreviousSha256Hex, "--site", "NEW"]);
        var list = await PythonAsync(amended.SeedHex, "30", blocks, "NEW/F", "NEW/M", "--first-ordinal", "3");
        var first = await server.Site("NEW").RandomizeAsync(Requests.Randomize("NEW-001", Sex.Female, site: "NEW"));

        Assert.Equal(published.Chain[0].Sha256Hex, original.Trim());
        Assert.Equal(published.Chain[1].Sha256Hex, amendment.Trim());
        Assert.Equal(first.Assignment.RandomizationNumber, list.Split('\n')[1].Split(',')[2]);
    }

    private static async Task<string> PythonAsync(params string[] args)
    {
        var script = Path.Combine(RepositoryRoot(), "docs", "reproduce-schedule.py");
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
        return output;
    }

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "CratusRandomization.sln"))) folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException("the repository root was not found");
    }
}

public sealed class AmendmentTestsOnSqlite : AmendmentTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class AmendmentTestsOnPostgreSql : AmendmentTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class AmendmentTestsOnSqlServer : AmendmentTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
