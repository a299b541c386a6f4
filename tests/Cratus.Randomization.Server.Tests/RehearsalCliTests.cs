extern alias cli;

using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;
using RehearsalCommands = cli::Cratus.Cli.RehearsalCommands;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The command-line client's rehearsal commands against a real UAT server (and a production one) on loopback.</summary>
public sealed class RehearsalCliTests
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(TrialServer server, string token, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CratusCli.RunAsync([.. args, "--server", server.Address!, "--token", token], output, error, new StringReader(""));
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string label) =>
        output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[label.Length..].Trim();

    [Fact]
    public async Task AdvanceClock_InUat_MovesTheTrialClockAndRefusesBackwardsAndInProduction()
    {
        await using var uat = new TrialServer(TestDatabase.Sqlite, onLoopback: true, new Dictionary<string, string>
        {
            ["Trial:Mode"] = "Uat", ["Rehearsal:ClockControl"] = "true", [TrialServer.ClockSetting] = TrialServer.RealTrialClock,
        }, ("", "")); // Phase I first
        await using var production = new TrialServer(TestDatabase.Sqlite, onLoopback: true);
        var administrator = uat.Token(TrialRole.Administrator, "uat-admin");

        var moved = await RunAsync(uat, administrator, "rehearsal", "advance-clock", "--by", "30d", "--reason", "UAT: pass the window");
        var shown = await RunAsync(uat, uat.Token(TrialRole.SiteCoordinator, "uat-coord", ["UM"]), "rehearsal", "clock");
        var backwards = await RunAsync(uat, administrator, "rehearsal", "advance-clock", "--by", "-1d", "--reason", "undo");
        var unreadable = await RunAsync(uat, administrator, "rehearsal", "advance-clock", "--by", "a month", "--reason", "typo");
        var notAdministrator = await RunAsync(uat, uat.Token(TrialRole.Monitor), "rehearsal", "advance-clock", "--by", "1d", "--reason", "x");
        // An infusion recorded without --at is recorded at the trial time, not the real time.
        var enrolled = (await uat.As(TrialRole.SiteCoordinator, "UM").DoseEscalation.EnrollInCohortAsync(new Randomization.Protos.V1.EnrollInCohortRequest
        {
            SiteCode = "UM", ScreeningId = "UAT-CLI-1", Eligibility = Requests.Eligible(),
        })).Assignment;
        var trialNow = (await uat.As(TrialRole.Administrator).Rehearsal.GetTrialClockAsync(new Randomization.Protos.V1.GetTrialClockRequest())).Clock.TrialTime.ToDateTimeOffset();
        await ProductPath.VerifiedAtBedsideAsync(uat, enrolled.ParticipantId, startedAt: trialNow.AddMinutes(-30));
        var infused = await RunAsync(uat, uat.Token(TrialRole.SiteCoordinator, sites: ["UM"]), "infusion", enrolled.ParticipantId);
        var inProduction = await RunAsync(production, production.Token(TrialRole.Administrator), "rehearsal", "advance-clock", "--by", "1d", "--reason", "x");

        Assert.Equal(0, moved.Exit);
        Assert.Equal("30 days 0 h 0 min", Field(moved.Output, "Ahead of the real time"));
        Assert.Equal("UAT (a rehearsal)", Field(moved.Output, "Trial mode"));
        Assert.Equal(0, shown.Exit);
        Assert.Equal("30 days 0 h 0 min", Field(shown.Output, "Ahead of the real time"));
        Assert.Equal(DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            Field(shown.Output, "Trial time (UTC)")[..10]);
        Assert.Equal(0, infused.Exit);
        Assert.StartsWith(DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), Field(infused.Output, "Infused at (UTC)"), StringComparison.Ordinal);
        Assert.Equal(2, backwards.Exit);
        Assert.Contains("(InvalidArgument, REQUEST_INVALID)", backwards.Error, StringComparison.Ordinal);
        Assert.Contains("  advance_by: The trial clock only moves forward", backwards.Error, StringComparison.Ordinal);
        Assert.Equal(2, unreadable.Exit);
        Assert.Contains("--by must be a duration", unreadable.Error, StringComparison.Ordinal);
        Assert.Equal(3, notAdministrator.Exit);
        Assert.Contains("PermissionDenied", notAdministrator.Error, StringComparison.Ordinal);
        Assert.Equal(5, inProduction.Exit);
        Assert.Contains("(FailedPrecondition, PRODUCTION_CLOCK_FIXED)", inProduction.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("1d12h30m", 36 * 60 + 30)]
    [InlineData("90m", 90)]
    [InlineData("2.00:00:00", 48 * 60)]
    [InlineData("-1d", -24 * 60)]
    public void ParseDuration_DaysHoursMinutesOrATimeSpan(string text, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), RehearsalCommands.ParseDuration(text));
}
