using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;

namespace Cratus.Cli;

/// <summary>`cratus randomize`: the site's bedside call. Retries a busy server with the same request id.</summary>
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
            var (requestId, site, screeningId, eligibility) = await intake.ReadAsync(p, channel, ct);
            var request = new RandomizeRequest { RequestId = requestId, SiteCode = site, ScreeningId = screeningId, Eligibility = eligibility };
            var client = new RandomizationService.RandomizationServiceClient(channel);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var reply = await client.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
                    s.Print(reply, [.. Rows(reply.Assignment), ("Request id", request.RequestId)]);
                    return;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 3)
                {
                    await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
                }
            }
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
