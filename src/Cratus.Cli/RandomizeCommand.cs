using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;

namespace Cratus.Cli;

/// <summary>`cratus randomize`: the site's bedside call. A busy server is retried with the same request id.</summary>
public static class RandomizeCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var command = new Command("randomize", "Check eligibility and randomize a participant (site coordinators and investigators).");
        var intake = IntakeOptions.AddTo(command);
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var channel = s.Channel();
            var (requestId, site, screeningId, eligibility) = await intake.ReadAsync(p, s, channel, ct);
            var request = new RandomizeRequest { RequestId = requestId, SiteCode = site, ScreeningId = screeningId, Eligibility = eligibility };
            // A busy server is retried with the same request id by the session's channel (CliSession.RetrySafeWrites).
            var reply = await new RandomizationService.RandomizationServiceClient(channel)
                .RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
            s.Print(reply, [.. Rows(reply.Assignment), ("Request id", request.RequestId)]);
        });
        return command;
    }

    public static IReadOnlyList<(string, string)> Rows(BlindedAssignment a) =>
    [
        ("Participant", a.ParticipantId),
        ("Site", a.SiteCode),
        ("Screening id", a.ScreeningId),
        ("Randomization number", a.RandomizationNumber),
        ("Product code", a.ProductCode),
        ("Randomized at (UTC)", a.RandomizedAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)),
        .. a.EmergencyUnblinded ? new[] { ("Emergency unblinded", "yes") } : [],
    ];
}
