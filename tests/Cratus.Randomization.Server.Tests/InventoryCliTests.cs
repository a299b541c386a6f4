extern alias cli;

using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;

namespace Cratus.Randomization.Server.Tests;

/// <summary>`cratus inventory ...` and `cratus product history` against the real server on loopback: the README's inventory walkthrough, as a test.</summary>
public abstract class InventoryCliTests : OnEachDatabase
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
    public async Task Walkthrough_RegisterReleaseQuarantineDestroy_AndTheHistory()
    {
        await using var server = NewServer(onLoopback: true);
        var pharmacist = server.Token(TrialRole.Pharmacist, "pharm-1");
        var qa = server.Token(TrialRole.QualityAssurance, "qa-1");

        var wrong = await RunAsync(server, pharmacist, "inventory", "register-lot", "LOT-2026-002", "--donor", "D-0042", "--product-code", "E0001V00",
            "--expiry", "2027-06-30", "--unit", "G123498654321X,100000000,93.5,LN2 tank 1 box 5");
        Assert.Equal(2, wrong.Exit);
        Assert.Contains("should be H", wrong.Error);
        Assert.Contains("DONATION_NUMBER_INVALID", wrong.Error);

        var registered = await RunAsync(server, pharmacist, "inventory", "register-lot", "LOT-2026-001", "--donor", "D-0042", "--product-code", "E0001V00",
            "--expiry", "2027-06-30", "--unit", "G123498654321H,100000000,93.5,LN2 tank 1 box 4", "--unit", "ABCDE27000069C,100000000,93.1,LN2 tank 1 box 4");
        Assert.Equal(0, registered.Exit);
        Assert.Equal("awaiting release", Field(registered.Output, "Status"));
        Assert.Equal("0 of 2", Field(registered.Output, "Usable units"));

        var notQa = await RunAsync(server, pharmacist, "inventory", "release-lot", "LOT-2026-001", "--meaning", "approval");
        Assert.NotEqual(0, notQa.Exit);
        var released = await RunAsync(server, qa, "inventory", "release-lot", "LOT-2026-001", "--meaning", "approval");
        Assert.Equal(0, released.Exit);
        Assert.Equal("released", Field(released.Output, "Status"));
        Assert.StartsWith("Signed by Signer qa-1 (qa-1, quality_assurance)", Field(released.Output, "Electronic signature"));

        Assert.Equal(0, (await RunAsync(server, qa, "inventory", "quarantine-lot", "LOT-2026-001", "--reason", "endotoxin retest")).Exit);
        Assert.Equal(0, (await RunAsync(server, pharmacist, "inventory", "report-excursion", "--unit", "ABCDE27000069C", "--kind", "temperature",
            "--reason", "shipper logger read -120 C")).Exit);
        var destroyed = await RunAsync(server, pharmacist, "inventory", "destroy-unit", "ABCDE27000069C", "--reason", "temperature excursion");
        Assert.Equal("destroyed", Field(destroyed.Output, "State"));
        var list = await RunAsync(server, pharmacist, "inventory", "list-lots");
        Assert.Contains("G123498654321H", list.Output);
        Assert.Contains("quarantined", list.Output);

        var history = await RunAsync(server, pharmacist, "product", "history", "--unit", "ABCDE27000069C");
        Assert.Equal(0, history.Exit);
        var order = new[] { "lot registered", "unit registered", "lot released", "unit released", "lot quarantined", "unit quarantined", "unit excursion", "unit destroyed" }
            .Select(w => history.Output.IndexOf(w, StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, order);
        Assert.Equal(order.Order(), order);
        var audit = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unit.destroyed" })).Events;
        Assert.Equal("pharm-1", Assert.Single(audit).User);
    }
}

public sealed class InventoryCliTestsOnSqlite : InventoryCliTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class InventoryCliTestsOnPostgreSql : InventoryCliTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}
