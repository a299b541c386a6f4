using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>Reading and verifying the audit trail (monitors and statisticians).</summary>
public static class AuditCommands
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var audit = new Command("audit", "The append-only, hash-chained and keyed audit trail, and the integrity of the stored allocations.");

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
            s.PrintTable(reply, ["SEQ", "TIME (UTC)", "USER", "ROLE", "SITE", "ACTION", "TARGET", "REASON", "ELECTRONIC SIGNATURE"],
                reply.Events.Select(e => (IReadOnlyList<string>)[e.Sequence.ToString(CultureInfo.InvariantCulture), UnblindingCommands.Time(e.OccurredAt),
                    e.User, e.Role, e.Site, e.Action, e.Target, e.Reason, e.Signature?.Text ?? ""]).ToList());
            if (reply.NextPageToken.Length > 0) s.Note($"More events: add --page-token {reply.NextPageToken}");
        });

        var head = new Option<string?>("--head") { Description = "A head you recorded earlier, as SEQUENCE:HASH; the trail must still extend it" };
        var publicKeyOut = new Option<string?>("--public-key-out") { Description = "Write the head signing key's public key (PEM) to this file" };
        var verify = new Command("verify", "Check the whole chain; prints the signed head to record for next time. Exits 7 when broken.") { head, publicKeyOut };
        verify.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new VerifyAuditTrailRequest();
            if (p.GetValue(head) is { } recorded)
            {
                request.ExpectedHead = ParseHead(recorded);
            }
            var reply = await new AuditService.AuditServiceClient(s.Channel()).VerifyAuditTrailAsync(request, cancellationToken: ct);
            s.Print(reply, [
                ("Intact", reply.Intact ? "yes" : "NO"),
                ("Events checked", reply.EventsChecked.ToString(CultureInfo.InvariantCulture)),
                ("Head (record this)", reply.Head is null ? "(empty trail)" : $"{reply.Head.Sequence}:{reply.Head.Hash}"),
                .. reply.Intact ? Array.Empty<(string, string)>() : [("First broken event", reply.FirstBrokenSequence.ToString(CultureInfo.InvariantCulture)), ("Problem", reply.Problem)],
                .. request.ExpectedHead is null ? Array.Empty<(string, string)>() : [("Extends recorded head", reply.ExtendsExpectedHead ? "yes" : "NO")],
                .. reply.HeadSignature is not { } signed ? Array.Empty<(string, string)>() :
                [
                    ("Head signature", Convert.ToBase64String(signed.Signature.Span)),
                    ("Signing key id", signed.KeyId),
                ],
            ]);
            if (reply.HeadSignature is { } signature && reply.Head is { } signedHeadOfReply)
            {
                if (p.GetValue(publicKeyOut) is { } path) await File.WriteAllTextAsync(path, signature.PublicKeyPem, ct);
                s.Note("Public key (SubjectPublicKeyInfo):");
                s.Note(signature.PublicKeyPem.TrimEnd());
                s.Note($"Check offline: cratus audit check-head --public-key <that key, saved> --head {signedHeadOfReply.Sequence}:{signedHeadOfReply.Hash} --signature {Convert.ToBase64String(signature.Signature.Span)}");
            }
            return reply.Intact ? 0 : 7;
        });

        var verifyAllocations = new Command("verify-allocations",
            "Check the seal of every schedule entry, randomized participant and cohort enrolment; lists each changed outside the service. Exits 7 when any fails.");
        verifyAllocations.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AuditService.AuditServiceClient(s.Channel()).VerifyAllocationsAsync(new VerifyAllocationsRequest(), cancellationToken: ct);
            s.Print(reply, [
                ("Intact", reply.Intact ? "yes" : "NO"),
                ("Participants checked", reply.ParticipantsChecked.ToString(CultureInfo.InvariantCulture)),
                ("Schedule entries checked", reply.ScheduleEntriesChecked.ToString(CultureInfo.InvariantCulture)),
                ("Cohort enrolments checked", reply.CohortEnrolmentsChecked.ToString(CultureInfo.InvariantCulture)),
                ("Failures", reply.Failures.ToString(CultureInfo.InvariantCulture)),
            ]);
            if (!reply.Intact)
            {
                s.Note("");
                s.Note("PARTICIPANT  STRATUM  SEQUENCE  PROBLEM");
                foreach (var problem in reply.Problems)
                    s.Note($"{(problem.ParticipantId.Length == 0 ? "-" : problem.ParticipantId)}  {(problem.Stratum.Length == 0 ? "-" : problem.Stratum)}  {problem.Sequence.ToString(CultureInfo.InvariantCulture)}  {problem.Problem}");
            }
            return reply.Intact ? 0 : 7;
        });

        var publicKey = new Option<string>("--public-key") { Description = "The head signing key's public key (PEM file), as the service published it", Required = true };
        var signedHead = new Option<string>("--head") { Description = "The head, as SEQUENCE:HASH", Required = true };
        var signatureOption = new Option<string>("--signature") { Description = "The head signature (base64), as 'cratus audit verify' printed it", Required = true };
        var trial = new Option<string>("--trial") { Description = "The trial id", DefaultValueFactory = _ => "CRATUS" };
        var checkHead = new Command("check-head", "Check a recorded head's signature offline, with the public key alone (no server). Exits 7 when it does not verify.")
        {
            publicKey, signedHead, signatureOption, trial,
        };
        checkHead.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var recorded = ParseHead(p.GetValue(signedHead)!);
            byte[] signature;
            try
            {
                signature = Convert.FromBase64String(p.GetValue(signatureOption)!);
            }
            catch (FormatException)
            {
                throw new CliException("--signature must be the base64 'cratus audit verify' printed");
            }
            using var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(await File.ReadAllTextAsync(p.GetValue(publicKey)!, ct));
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException or IOException)
            {
                throw new CliException($"--public-key must be a PEM file holding the service's ECDSA public key ({e.Message})");
            }
            // The statement, exactly as the service signs it (README, "The audit trail").
            var statement = $"cratus-audit-head-v1\ntrial:{p.GetValue(trial)}\nsequence:{recorded.Sequence.ToString(CultureInfo.InvariantCulture)}\nhash:{recorded.Hash}\n";
            var valid = key.VerifyData(Encoding.UTF8.GetBytes(statement), signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
            var keyId = Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];
            var result = new Struct
            {
                Fields =
                {
                    ["valid"] = Value.ForBool(valid),
                    ["keyId"] = Value.ForString(keyId),
                    ["statement"] = Value.ForString(statement),
                },
            };
            s.Print(result, [
                ("Signature valid", valid ? "yes" : "NO: this head was not signed by that key"),
                ("Signing key id", keyId),
                ("Head", $"{recorded.Sequence.ToString(CultureInfo.InvariantCulture)}:{recorded.Hash}"),
            ]);
            return valid ? 0 : 7;
        });

        audit.Subcommands.Add(list);
        audit.Subcommands.Add(verify);
        audit.Subcommands.Add(verifyAllocations);
        audit.Subcommands.Add(checkHead);
        return audit;
    }

    private static AuditHead ParseHead(string recorded)
    {
        var parts = recorded.Split(':');
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || parts[1].Length != 64)
            throw new CliException("--head must be SEQUENCE:HASH, as printed by an earlier 'cratus audit verify'");
        return new AuditHead { Sequence = sequence, Hash = parts[1].ToLowerInvariant() };
    }
}
