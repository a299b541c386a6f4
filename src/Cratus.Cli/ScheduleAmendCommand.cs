using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf;

namespace Cratus.Cli;

/// <summary>"schedule amend": a statistician adds a site to the running trial, its lists generated from a new seed or imported.</summary>
internal static class ScheduleAmendCommand
{
    public static Command Create(Func<ParseResult, CliSession> session, Signing signing, Option<string> reason)
    {
        var site = new Argument<string>("site-code") { Description = "The new site's code" };
        var name = new Option<string>("--name") { Description = "The new site's name", Required = true };
        var file = new Option<FileInfo?>("--file") { Description = "The new site's lists as CSV (import format); without it they are generated from a new seed" };
        var amend = new Command("amend", "Add a site to the running trial: its lists from a new seed or a file, a new commitment chained to the previous one (signed).")
            { site, name, file, reason, signing.Meaning };
        amend.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var code = p.GetValue(site)!;
            var request = new AmendScheduleRequest { SiteCode = code, SiteName = p.GetValue(name)!, Reason = p.GetValue(reason)! };
            var record = code;
            if (p.GetValue(file) is { } path)
            {
                if (!path.Exists) throw new CliException($"file {path.FullName} does not exist");
                var content = await File.ReadAllBytesAsync(path.FullName, ct);
                request.Csv = ByteString.CopyFrom(content);
                record = Signing.Sha256Hex(content);
            }
            request.Signature = await signing.SignAsync(s, p, SignedAction.ScheduleAmendment, record, ct);
            var reply = await new ScheduleService.ScheduleServiceClient(s.Channel()).AmendScheduleAsync(request, cancellationToken: ct);
            s.Print(reply, [
                ("Site added", reply.SiteCode),
                ("Amendment", reply.Part.ToString(CultureInfo.InvariantCulture)),
                ("Commitment (SHA-256)", reply.Sha256Hex),
                ("Chained to", reply.PreviousSha256Hex),
                .. reply.SeedHex.Length > 0 ? [("Seed", reply.SeedHex)] : Array.Empty<(string, string)>(),
                ("Salt", reply.SaltHex),
                ("Block sizes", string.Join(", ", reply.BlockSizes)),
                .. reply.Strata.Select(st => ("Stratum " + st.Stratum, string.Create(CultureInfo.InvariantCulture, $"{st.Entries} entries, ordinal {st.Ordinal}"))),
                ("Ordinal width", reply.OrdinalWidth.ToString(CultureInfo.InvariantCulture)),
                ("Signed", $"{p.GetValue(signing.Meaning)}, by you, for {(record == code ? "site " + code : "the file with SHA-256 " + record)}"),
                ("Note", "Keep the seed and salt with the trial master file; never give them to a site."),
            ]);
        });
        return amend;
    }
}
