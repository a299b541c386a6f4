extern alias cli;

using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;

namespace Cratus.Randomization.Server.Tests;

/// <summary>`cratus schedule amend` against the real server on loopback: the README's amendment walkthrough, as a test.</summary>
public abstract class ScheduleAmendCliTests : OnEachDatabase
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
    public async Task ScheduleAmend_AfterRandomizationBegan_AddsTheSiteSignedAndTheCommitmentShowsTheChain()
    {
        await using var server = NewServer(onLoopback: true);
        var statistician = server.Token(TrialRole.Statistician, "stat-1");
        await RunAsync(server, statistician, "schedule", "generate", "--reason", "initial", "--meaning", "authorship");
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"));
        var original = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());

        var coordinator = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, "coord", ["UM"]),
            "schedule", "amend", "NEW", "--name", "New Site Hospital", "--reason", "amendment 2", "--meaning", "authorship");
        var amended = await RunAsync(server, statistician, "schedule", "amend", "NEW", "--name", "New Site Hospital", "--reason", "amendment 2", "--meaning", "authorship");
        var commitment = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, "coord", ["UM"]), "schedule", "commitment");

        Assert.NotEqual(0, coordinator.Exit);
        Assert.Equal(0, amended.Exit);
        Assert.Equal("NEW", Field(amended.Output, "Site added"));
        Assert.Equal(original.Sha256Hex, Field(amended.Output, "Chained to"));
        var latest = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.Equal(latest.Sha256Hex, Field(amended.Output, "Commitment (SHA-256)"));
        Assert.Equal(2, latest.Chain.Count);
        Assert.Contains($"site NEW: {latest.Sha256Hex}, chained to {original.Sha256Hex}", commitment.Output, StringComparison.Ordinal);
        Assert.DoesNotMatch(BlindingTests.Treatment(), commitment.Output);
        var signed = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "schedule.amended" })).Events;
        Assert.Equal("stat-1", Assert.Single(signed).User);
        var assignment = (await server.Site("NEW").RandomizeAsync(Requests.Randomize("SCR-NEW-1", site: "NEW"))).Assignment;
        Assert.Equal("NEW", assignment.SiteCode);
    }
}

public sealed class ScheduleAmendCliTestsOnSqlite : ScheduleAmendCliTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ScheduleAmendCliTestsOnPostgreSql : ScheduleAmendCliTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ScheduleAmendCliTestsOnSqlServer : ScheduleAmendCliTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
