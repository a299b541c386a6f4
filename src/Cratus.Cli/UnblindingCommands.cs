using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>Emergency unblinding (investigators) and controlled unblinding (statisticians; the DSMB reads aggregates).</summary>
public static class UnblindingCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, Signing signing)
    {
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };

        var participant = new Argument<string>("participant-id") { Description = "The participant" };
        var emergency = new Command("emergency-unblind", "Break the blind for one of your site's participants in an emergency (investigators; signed).") { participant, reason, signing.Meaning };
        emergency.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var participantId = p.GetValue(participant)!;
            var signature = await signing.SignAsync(s, p, SignedAction.EmergencyUnblinding, participantId, ct);
            var reply = await new UnblindingService.UnblindingServiceClient(s.Channel()).EmergencyUnblindAsync(
                new EmergencyUnblindRequest { ParticipantId = participantId, Reason = p.GetValue(reason)!, Signature = signature }, cancellationToken: ct);
            s.Print(reply, [
                ("Participant", reply.Assignment.ParticipantId),
                ("Randomization number", reply.Assignment.RandomizationNumber),
                .. TreatmentRows(reply.Treatment),
                ("Signed", $"{p.GetValue(signing.Meaning)}, by you"),
                ("Recorded", "this unblinding and your signature are in the audit trail; statisticians and monitors see it"),
            ]);
        });

        var unblinding = new Command("unblinding", "Controlled unblinding: one statistician requests, a different one approves.");
        var scope = new Option<string>("--scope") { Description = "participant, dsmb-aggregate or final", Required = true };
        scope.AcceptOnlyFromAmong("participant", "dsmb-aggregate", "final");
        var participantOption = new Option<string?>("--participant") { Description = "The participant, for --scope participant" };
        var request = new Command("request", "Ask for a controlled unblinding.") { scope, participantOption, reason };
        request.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new UnblindingService.UnblindingServiceClient(s.Channel()).RequestUnblindingAsync(new RequestUnblindingRequest
            {
                Scope = p.GetValue(scope) switch { "participant" => UnblindingScope.Participant, "dsmb-aggregate" => UnblindingScope.DsmbAggregate, _ => UnblindingScope.Final },
                ParticipantId = p.GetValue(participantOption) ?? "",
                Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            s.Print(reply, [.. RequestRows(reply.Request), ("Next", "a different statistician runs: cratus unblinding approve " + reply.Request.UnblindingId + " --reason ...")]);
        });

        var requestId = new Argument<string>("unblinding-id") { Description = "The unblinding request (U-...)" };
        var approve = new Command("approve", "Approve another statistician's request (signed).") { requestId, reason, signing.Meaning };
        approve.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var unblindingId = p.GetValue(requestId)!;
            var signature = await signing.SignAsync(s, p, SignedAction.UnblindingApproval, unblindingId, ct);
            var reply = await new UnblindingService.UnblindingServiceClient(s.Channel()).ApproveUnblindingAsync(
                new ApproveUnblindingRequest { UnblindingId = unblindingId, Reason = p.GetValue(reason)!, Signature = signature }, cancellationToken: ct);
            s.Print(reply, RequestRows(reply.Request));
        });

        var list = new Command("list", "List unblinding requests.");
        list.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new UnblindingService.UnblindingServiceClient(s.Channel()).ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest(), cancellationToken: ct);
            s.PrintTable(reply, ["REQUEST", "SCOPE", "PARTICIPANT", "STATUS", "REQUESTED BY", "APPROVED BY", "EXPIRES (UTC)", "APPROVAL SIGNATURE"],
                reply.Requests.Select(r => (IReadOnlyList<string>)[r.UnblindingId, Scope(r.Scope), r.ParticipantId, Status(r.Status), r.RequestedBy, r.ApprovedBy,
                    Time(r.ExpiresAt), r.ApprovalSignature?.Text ?? ""]).ToList());
        });

        var show = new Command("show", "Show what an approved request reveals.") { requestId };
        show.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new UnblindingService.UnblindingServiceClient(s.Channel()).GetUnblindedAllocationsAsync(
                new GetUnblindedAllocationsRequest { UnblindingId = p.GetValue(requestId)! }, cancellationToken: ct);
            s.PrintTable(reply, reply.Allocations.Count > 0 ? ["PARTICIPANT", "SITE", "RANDOMIZATION NUMBER", "ARM", "TREATMENT", "EMERGENCY UNBLINDED"] : ["ARM", "TREATMENT", "PARTICIPANTS"],
                reply.Allocations.Count > 0
                    ? reply.Allocations.Select(a => (IReadOnlyList<string>)[a.Assignment.ParticipantId, a.Assignment.SiteCode, a.Assignment.RandomizationNumber,
                        a.Treatment.ArmCode, a.Treatment.Treatment, a.Assignment.EmergencyUnblinded ? "yes" : ""]).ToList()
                    : reply.ArmCounts.Select(c => (IReadOnlyList<string>)[c.Treatment.ArmCode, c.Treatment.Treatment, c.Participants.ToString(CultureInfo.InvariantCulture)]).ToList());
        });

        unblinding.Subcommands.Add(request);
        unblinding.Subcommands.Add(approve);
        unblinding.Subcommands.Add(list);
        unblinding.Subcommands.Add(show);
        return [emergency, unblinding];
    }

    internal static IReadOnlyList<(string, string)> TreatmentRows(ArmTreatment t) =>
    [
        ("Arm", t.ArmCode),
        ("Treatment", t.Treatment),
        ("Cells", t.Placebo ? "none (placebo)" : t.CellCount.ToString("N0", CultureInfo.InvariantCulture)),
    ];

    private static IReadOnlyList<(string, string)> RequestRows(UnblindingRequest r) =>
    [
        ("Unblinding request", r.UnblindingId),
        ("Scope", Scope(r.Scope) + (r.ParticipantId.Length > 0 ? " " + r.ParticipantId : "")),
        ("Status", Status(r.Status)),
        ("Requested by", $"{r.RequestedBy} at {Time(r.RequestedAt)}"),
        ("Approved by", r.ApprovedBy.Length > 0 ? $"{r.ApprovedBy} at {Time(r.ApprovedAt)}" : "(awaiting a second statistician)"),
        ("Expires", Time(r.ExpiresAt)),
        .. Signing.Rows(r.ApprovalSignature),
    ];

    private static string Scope(UnblindingScope scope) => scope switch
    {
        UnblindingScope.Participant => "participant",
        UnblindingScope.DsmbAggregate => "dsmb-aggregate",
        _ => "final",
    };

    private static string Status(UnblindingRequestStatus status) => status.ToString().ToLowerInvariant();

    internal static string Time(Timestamp? t) => t is null ? "" : t.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture);
}
