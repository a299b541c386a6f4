using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>Reading and verifying the audit trail (monitors and statisticians).</summary>
public static class AuditCommands
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var audit = new Command("audit", "The append-only, hash-chained audit trail.");

        var action = new Option<string?>("--action") { Description = "Only this action, e.g. participant.randomized" };
        var user = new Option<string?>("--user") { Description = "Only this user" };
        var target = new Option<string?>("--target") { Description = "Only this target, e.g. a participant id" };
        var pageSize = new Option<int>("--page-size") { Description = "Events per page (1-500)", DefaultValueFactory = _ => 50 };
        var pageToken = new Option<string?>("--page-token") { Description = "Continue from a previous page" };
        var list = new Command("list", "List events, oldest first.") { action, user, target, pageSize, pageToken };
        list.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AuditService.AuditServiceClient(s.Channel()).ListAuditEventsAsync(new ListAuditEventsRequest
            {
                Action = p.GetValue(action) ?? "",
                User = p.GetValue(user) ?? "",
                Target = p.GetValue(target) ?? "",
                PageSize = p.GetValue(pageSize),
                PageToken = p.GetValue(pageToken) ?? "",
            }, cancellationToken: ct);
            s.PrintTable(reply, ["SEQ", "TIME (UTC)", "USER", "ROLE", "SITE", "ACTION", "TARGET", "REASON"],
                reply.Events.Select(e => (IReadOnlyList<string>)[e.Sequence.ToString(CultureInfo.InvariantCulture), UnblindingCommands.Time(e.OccurredAt),
                    e.User, e.Role, e.Site, e.Action, e.Target, e.Reason]).ToList());
            if (reply.NextPageToken.Length > 0) s.Note($"More events: add --page-token {reply.NextPageToken}");
        });

        var head = new Option<string?>("--head") { Description = "A head you recorded earlier, as SEQUENCE:HASH; the trail must still extend it" };
        var verify = new Command("verify", "Check the whole chain; prints the head to record for next time. Exits non-zero when broken.") { head };
        verify.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new VerifyAuditTrailRequest();
            if (p.GetValue(head) is { } recorded)
            {
                var parts = recorded.Split(':');
                if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
                    throw new CliException("--head must be SEQUENCE:HASH, as printed by an earlier 'cratus audit verify'");
                request.ExpectedHead = new AuditHead { Sequence = sequence, Hash = parts[1] };
            }
            var reply = await new AuditService.AuditServiceClient(s.Channel()).VerifyAuditTrailAsync(request, cancellationToken: ct);
            s.Print(reply, [
                ("Intact", reply.Intact ? "yes" : "NO"),
                ("Events checked", reply.EventsChecked.ToString(CultureInfo.InvariantCulture)),
                ("Head (record this)", reply.Head is null ? "(empty trail)" : $"{reply.Head.Sequence}:{reply.Head.Hash}"),
                .. reply.Intact ? Array.Empty<(string, string)>() : [("First broken event", reply.FirstBrokenSequence.ToString(CultureInfo.InvariantCulture)), ("Problem", reply.Problem)],
                .. request.ExpectedHead is null ? Array.Empty<(string, string)>() : [("Extends recorded head", reply.ExtendsExpectedHead ? "yes" : "NO")],
            ]);
            return reply.Intact ? 0 : 7;
        });

        audit.Subcommands.Add(list);
        audit.Subcommands.Add(verify);
        return audit;
    }
}
