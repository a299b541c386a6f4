using System.Text;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Tests;

public abstract class ScheduleTests : OnEachDatabase
{
    internal static string ValidCsv()
    {
        var lines = new StringBuilder("stratum,sequence,randomization_number,arm\n");
        foreach (var (stratum, prefix) in new[] { ("UM/F", "F"), ("UM/M", "M") })
        {
            var pattern = new[] { "A", "C", "B", "B", "A", "C" };
            for (var i = 1; i <= 30; i++) lines.Append($"{stratum},{i},{prefix}{i:D3},{pattern[(i - 1) % 6]}\n");
        }
        return lines.ToString();
    }

    private static Task<ImportScheduleResponse> ImportAsync(TrialServer server, string csv) =>
        server.Statistician().ImportScheduleAsync(new ImportScheduleRequest { Csv = ByteString.CopyFromUtf8(csv), Reason = "statistician's list v1" }).ResponseAsync;

    public static TheoryData<string, string, string> MalformedLists => new()
    {
        { "unbalanced block", "UM/F,1,F001,A", "UM/F,1,F001,B" },
        { "duplicate randomization number", "UM/M,2,M002,C", "UM/M,2,M001,C" },
        { "unknown arm", "UM/F,7,F007,A", "UM/F,7,F007,D" },
        { "gap in sequence", "UM/M,30,M030,C", "UM/M,31,M030,C" },
        { "unknown stratum", "UM/M,1,M001,A", "XX/M,1,M001,A" },
        { "uneven number lengths", "UM/F,3,F003,B", "UM/F,3,F03,B" },
        { "missing value", "UM/F,4,F004,B", "UM/F,4,F004" },
    };

    [ProviderTheory]
    [MemberData(nameof(MalformedLists))]
    public async Task ImportSchedule_MalformedList_IsRejectedWholeAndStoresNothing(string problem, string line, string replacement)
    {
        await using var server = NewServer();
        var csv = ValidCsv();
        Assert.Contains(line + "\n", csv, StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<RpcException>(() => ImportAsync(server, csv.Replace(line + "\n", replacement + "\n", StringComparison.Ordinal)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("nothing was stored", error.Status.Detail, StringComparison.Ordinal);
        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());
        Assert.False(trial.ScheduleInPlace, problem);
        var stored = await server.QueryAsync("""SELECT (SELECT COUNT(*) FROM "Schedules") + (SELECT COUNT(*) FROM "ScheduleEntries")""");
        Assert.Equal(0L, Convert.ToInt64(stored[0][0], System.Globalization.CultureInfo.InvariantCulture));
    }

    [ProviderFact]
    public async Task ImportSchedule_StratumShorterThanTarget_NamesTheStratum()
    {
        await using var server = NewServer();
        var csv = string.Join('\n', ValidCsv().Split('\n').Where(l => !l.StartsWith("UM/M,2", StringComparison.Ordinal) && !l.StartsWith("UM/M,3", StringComparison.Ordinal)));

        var error = await Assert.ThrowsAsync<RpcException>(() => ImportAsync(server, csv));

        Assert.Contains("'UM/M'", error.Status.Detail, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task ImportSchedule_ValidList_IsUsedInOrderAndCommitted()
    {
        await using var server = NewServer();

        var imported = await ImportAsync(server, ValidCsv());
        var first = await server.Site().RandomizeAsync(Requests.Randomize("SCR-1", Sex.Male));
        var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = first.Assignment.ParticipantId });
        var commitment = await server.Trial(Server.Security.TrialRole.SiteCoordinator).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());

        Assert.Equal("M001", first.Assignment.RandomizationNumber);
        Assert.Equal("A", order.ArmCode);
        Assert.Equal(100_000_000, order.CellCount);
        Assert.Equal(imported.Sha256Hex, commitment.Sha256Hex);
    }

    [ProviderFact]
    public async Task GenerateSchedule_SeedAndSaltFromTheReceipt_ReproduceTheCommittedList()
    {
        await using var server = NewServer();

        var receipt = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var commitment = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());

        var definition = Domain.TrialDefinition.Parse(File.ReadAllText(Path.Combine(server.Folder, "trial.json")));
        var regenerated = Domain.ScheduleGenerator.Generate(definition, Convert.FromHexString(receipt.SeedHex), [.. receipt.BlockSizes]);
        var digest = Domain.ScheduleCommitment.Compute(definition, Convert.FromHexString(receipt.SaltHex), regenerated.Entries);
        Assert.Equal(commitment.Sha256Hex, digest);
        Assert.Equal(receipt.Sha256Hex, digest);
        Assert.Equal(64, receipt.SeedHex.Length);
    }

    [ProviderFact]
    public async Task GenerateSchedule_WhenOneIsInPlace_IsRefusedAndTheFirstStays()
    {
        await using var server = NewServer();
        var first = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });

        var again = await Assert.ThrowsAsync<RpcException>(() => server.Statistician("statistician-2").GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "again" }).ResponseAsync);
        var import = await Assert.ThrowsAsync<RpcException>(() => ImportAsync(server, ValidCsv()));

        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, import.StatusCode);
        var commitment = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.Equal(first.Sha256Hex, commitment.Sha256Hex);
    }

    [ProviderFact]
    public async Task GenerateSchedule_BlockSizeNotAMultipleOfTheRatio_IsInvalidArgument()
    {
        await using var server = NewServer();

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { BlockSizes = { 4 }, Reason = "x" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [ProviderFact]
    public async Task GetTrial_BlindedCaller_SeesCountsBySiteButNoArmDoseOrBlockSize()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"));

        var trial = await server.Trial(Server.Security.TrialRole.SiteCoordinator).GetTrialAsync(new GetTrialRequest());

        Assert.Equal("NCT02065245", trial.RegistryId);
        Assert.Equal(1, trial.Sites.Single(s => s.SiteCode == "UM").RandomizedParticipants);
        Assert.Equal(4, trial.Eligibility.ExclusionCriteria.Count);
        var text = trial.ToString();
        foreach (var word in new[] { "placebo", "million", "block", "\"A\"", "ratio" })
            Assert.DoesNotContain(word, text, StringComparison.OrdinalIgnoreCase);
    }
}

public sealed class ScheduleTestsOnSqlite : ScheduleTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ScheduleTestsOnPostgreSql : ScheduleTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ScheduleTestsOnSqlServer : ScheduleTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
