extern alias cli;

using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;

namespace Cratus.Randomization.Server.Tests;

/// <summary>`cratus export participants` against the real server on loopback: the README's export walkthrough, as a test.</summary>
public abstract class ExportCliTests : OnEachDatabase
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(TrialServer server, string token, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CratusCli.RunAsync([.. args, "--server", server.Address!, "--token", token], output, error, new StringReader(Signing.Password + "\n"));
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string label) =>
        output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[label.Length..].Trim();

    [ProviderFact]
    public async Task ExportParticipants_BlindedForTheMonitorUnblindedUnderAnApprovedRequest_WritesTheFileWithItsDigest()
    {
        await using var server = NewServer(onLoopback: true);
        await server.Statistician("stat-1").GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var assigned = new List<BlindedAssignment>();
        for (var i = 0; i < 4; i++) assigned.Add((await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}", i % 2 == 0 ? Sex.Female : Sex.Male))).Assignment);
        var monitor = server.Token(TrialRole.Monitor, "monitor-1");
        var stat1 = server.Token(TrialRole.Statistician, "stat-1");
        var stat2 = server.Token(TrialRole.Statistician, "stat-2");
        var blindedFile = Path.Combine(server.Folder, "blinded.csv");
        var unblindedFile = Path.Combine(server.Folder, "unblinded.csv");

        var blinded = await RunAsync(server, monitor, "export", "participants", "--format", "cdisc", "--output", blindedFile);
        var requested = await RunAsync(server, stat1, "unblinding", "request", "--scope", "final", "--reason", "database lock");
        var requestId = Field(requested.Output, "Unblinding request");
        var early = await RunAsync(server, stat1, "export", "participants", "--unblinding-id", requestId, "--output", unblindedFile);
        await RunAsync(server, stat2, "unblinding", "approve", requestId, "--reason", "locked", "--meaning", "approval");
        var monitorUnblinded = await RunAsync(server, monitor, "export", "participants", "--unblinding-id", requestId, "--output", unblindedFile);
        var unblinded = await RunAsync(server, stat1, "export", "participants", "--unblinding-id", requestId, "--output", unblindedFile);

        Assert.Equal(0, blinded.Exit);
        var blindedBytes = await File.ReadAllBytesAsync(blindedFile);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(blindedBytes)), Field(blinded.Output, "SHA-256"));
        Assert.Equal("PRODUCTION", Field(blinded.Output, "Trial mode"));
        Assert.Equal("4", Field(blinded.Output, "Rows"));
        Assert.StartsWith("CRATUS_PRODUCTION_adsl_blinded_", Field(blinded.Output, "Server file name"), StringComparison.Ordinal);
        var (blindedHeader, blindedRows) = ExportTests.Parse(blindedBytes);
        Assert.DoesNotContain("ARMCD", blindedHeader);
        Assert.DoesNotMatch(BlindingTests.Treatment(), System.Text.Encoding.UTF8.GetString(blindedBytes));
        Assert.Equal(assigned.Select(a => a.RandomizationNumber), blindedRows.Select(r => r["RANDNUM"]));
        Assert.Equal(5, early.Exit);
        Assert.Contains("UNBLINDING_NOT_APPROVED", early.Error, StringComparison.Ordinal);
        Assert.Equal(3, monitorUnblinded.Exit);
        Assert.Equal(0, unblinded.Exit);
        var rows = ExportTests.Parse(await File.ReadAllBytesAsync(unblindedFile)).Rows;
        foreach (var row in rows)
            Assert.Equal((await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = row["participant_id"] })).ArmCode, row["arm_code"]);
        var trail = await RunAsync(server, monitor, "audit", "list", "--page-size", "100");
        Assert.Contains("export.participants", trail.Output, StringComparison.Ordinal);
        Assert.Contains("unblinding.participants_exported", trail.Output, StringComparison.Ordinal);
    }
}

public sealed class ExportCliTestsOnSqlite : ExportCliTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ExportCliTestsOnPostgreSql : ExportCliTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ExportCliTestsOnSqlServer : ExportCliTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
