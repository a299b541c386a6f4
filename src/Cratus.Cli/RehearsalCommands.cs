using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>Rehearsal (UAT and training servers): the trial mode and clock, and moving the clock forward (administrators).</summary>
public static partial class RehearsalCommands
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var rehearsal = new Command("rehearsal", "UAT and training: show the trial mode and clock, move the trial clock forward (administrators).");

        var clock = new Command("clock", "Show the trial mode and the trial time (the time every rule of the trial reads).");
        clock.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new RehearsalService.RehearsalServiceClient(s.Channel()).GetTrialClockAsync(new GetTrialClockRequest(), cancellationToken: ct);
            s.Print(reply, Rows(reply.Clock, ""));
        });

        var by = new Option<string>("--by") { Description = "How far forward: 30d, 12h, 90m, 1d12h (days, hours, minutes)", Required = true };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };
        var advance = new Command("advance-clock", "Move the trial clock forward (UAT and training with Rehearsal:ClockControl on; refused in production).") { by, reason };
        advance.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new RehearsalService.RehearsalServiceClient(s.Channel()).AdvanceTrialClockAsync(new AdvanceTrialClockRequest
            {
                AdvanceBy = Duration.FromTimeSpan(ParseDuration(p.GetValue(by)!)), Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            s.Print(reply, [("Trial time before (UTC)", UnblindingCommands.Time(reply.Before.TrialTime)), .. Rows(reply.After, " now")]);
        });

        rehearsal.Subcommands.Add(clock);
        rehearsal.Subcommands.Add(advance);
        return rehearsal;
    }

    private static IReadOnlyList<(string, string)> Rows(TrialClock clock, string suffix) =>
    [
        ("Trial mode", clock.Mode switch { TrialMode.Uat => "UAT (a rehearsal)", TrialMode.Training => "Training (a rehearsal)", _ => "Production" }),
        ($"Trial time{suffix} (UTC)", UnblindingCommands.Time(clock.TrialTime)),
        ("Ahead of the real time", Describe(clock.Offset.ToTimeSpan())),
        ("Clock control", clock.ClockControl ? "on" : "off"),
    ];

    /// <summary>"30d", "12h", "90m", "1d12h30m", or a .NET time span such as "30.00:00:00". A minus sign is kept (the
    /// server refuses moving backwards, and says so).</summary>
    public static TimeSpan ParseDuration(string text)
    {
        text = text.Trim();
        var negative = text.StartsWith('-');
        var unsigned = negative ? text[1..] : text;
        var match = Units().Match(unsigned);
        TimeSpan value;
        if (match.Success && unsigned.Length > 0)
            value = TimeSpan.FromDays(Part(match, "d")) + TimeSpan.FromHours(Part(match, "h")) + TimeSpan.FromMinutes(Part(match, "m"));
        else if (!TimeSpan.TryParse(unsigned, CultureInfo.InvariantCulture, out value))
            throw new CliException($"--by must be a duration such as 30d, 12h, 90m or 1d12h (got '{text}')");
        return negative ? -value : value;
    }

    private static int Part(Match match, string unit) =>
        match.Groups[unit].Success ? int.Parse(match.Groups[unit].Value, CultureInfo.InvariantCulture) : 0;

    private static string Describe(TimeSpan offset) =>
        offset == TimeSpan.Zero ? "none" : $"{(int)offset.TotalDays} days {offset.Hours} h {offset.Minutes} min";

    [GeneratedRegex(@"^(?:(?<d>\d{1,4})d)?(?:(?<h>\d{1,5})h)?(?:(?<m>\d{1,6})m)?$", RegexOptions.IgnoreCase)]
    private static partial Regex Units();
}
