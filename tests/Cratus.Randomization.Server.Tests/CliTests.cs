extern alias cli;

using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The command-line client against the real server on loopback: the README walkthrough, as a test.</summary>
public sealed class CliTests
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(TrialServer server, string token, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CratusCli.RunAsync([.. args, "--server", server.Address!, "--token", token], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string label) =>
        output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[label.Length..].Trim();

    [Fact]
    public async Task Walkthrough_GenerateRandomizeReadAssignmentAndDoseOrder_WorksAndRefusesWhatEachRoleMayNotDo()
    {
        await using var server = new TrialServer(onLoopback: true);
        var statistician = server.Token(TrialRole.Statistician, "stat-1");
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        var pharmacist = server.Token(TrialRole.Pharmacist, "pharm-1");

        var generated = await RunAsync(server, statistician, "schedule", "generate", "--reason", "initial schedule");
        var randomized = await RunAsync(server, site, "randomize", "--site", "UM", "--screening-id", "SCR-001", "--consent-date", "2026-11-20",
            "--date-of-birth", "1950-03-14", "--sex", "female", "--cfs", "5", "--mmse", "28", "--exclusions", "none");
        var participant = Field(randomized.Output, "Participant");
        var assignment = await RunAsync(server, site, "assignment", participant, "--json");
        var siteDoseOrder = await RunAsync(server, site, "dose-order", participant);
        var doseOrder = await RunAsync(server, pharmacist, "dose-order", participant);
        var commitment = await RunAsync(server, site, "schedule", "commitment");

        Assert.Equal(0, generated.Exit);
        Assert.Equal(64, Field(generated.Output, "Seed").Length);
        Assert.Equal(0, randomized.Exit);
        Assert.Equal("R01-001", Field(randomized.Output, "Randomization number"));
        Assert.Equal(0, assignment.Exit);
        Assert.Contains($"\"participantId\": \"{participant}\"", assignment.Output, StringComparison.Ordinal);
        Assert.Equal(3, siteDoseOrder.Exit);
        Assert.Contains("PermissionDenied", siteDoseOrder.Error, StringComparison.Ordinal);
        Assert.Equal(0, doseOrder.Exit);
        Assert.Matches("^[ABC]$", Field(doseOrder.Output, "Arm"));
        Assert.Equal(Field(generated.Output, "Commitment (SHA-256)"), Field(commitment.Output, "Commitment (SHA-256)"));
        foreach (var blinded in new[] { randomized.Output, assignment.Output, siteDoseOrder.Error })
        {
            Assert.DoesNotContain("placebo", blinded, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", blinded, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Randomize_Ineligible_ExitsNonZeroNamingTheCriteria()
    {
        await using var server = new TrialServer(onLoopback: true);
        await RunAsync(server, server.Token(TrialRole.Statistician), "schedule", "generate", "--reason", "initial");

        var result = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]), "randomize", "--site", "UM", "--screening-id", "SCR-002",
            "--consent-date", "2026-11-20", "--age", "58", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "recent-malignancy");

        Assert.Equal(5, result.Exit);
        Assert.Contains("age at consent 58", result.Error, StringComparison.Ordinal);
        Assert.Contains("recent-malignancy", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Randomize_BadDate_ExitsNonZeroWithoutCallingTheServer()
    {
        await using var server = new TrialServer(onLoopback: true);

        var result = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]), "randomize", "--site", "UM", "--screening-id", "SCR-003",
            "--consent-date", "20/11/2026", "--age", "70", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "none");

        Assert.Equal(2, result.Exit);
        Assert.Contains("--consent-date must be a date", result.Error, StringComparison.Ordinal);
    }
}
