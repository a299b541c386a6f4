using System.CommandLine;
using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>Participant exports to a file: blinded (monitors, statisticians) or unblinded under an approved request (statisticians).</summary>
public static class ExportCommands
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var format = new Option<string>("--format") { Description = "csv, or cdisc (an ADSL-aligned dataset: CSV with CDISC variable names)", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "cdisc");
        var unblindingId = new Option<string?>("--unblinding-id")
        {
            Description = "Take the unblinded export (statisticians) under this approved final or one-participant request (U-...); without it, the blinded export",
        };
        var output = new Option<string?>("--output", "-o") { Description = "The file to write; the server's file name in the current folder when not given" };
        var participants = new Command("participants", "Export every participant of both phases to a file (docs/exports.md); the export is audited with the file's SHA-256.")
            { format, unblindingId, output };
        participants.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var id = p.GetValue(unblindingId);
            var reply = await new ExportService.ExportServiceClient(s.Channel()).ExportParticipantsAsync(new ExportParticipantsRequest
            {
                Format = p.GetValue(format) == "cdisc" ? ExportFormat.Cdisc : ExportFormat.Csv,
                Scope = string.IsNullOrEmpty(id) ? ExportScope.Blinded : ExportScope.Unblinded,
                UnblindingId = id ?? "",
            }, cancellationToken: ct);
            var bytes = reply.Content.ToByteArray();
            // The file is written only when what arrived is what the server recorded.
            var digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (!string.Equals(digest, reply.Sha256, StringComparison.Ordinal))
                throw new CliException($"the export arrived damaged: SHA-256 {digest}, the server recorded {reply.Sha256}; nothing was written");
            var path = Path.GetFullPath(p.GetValue(output) ?? reply.FileName);
            await File.WriteAllBytesAsync(path, bytes, ct);
            s.Print(new ExportParticipantsResponse(reply) { Content = Google.Protobuf.ByteString.Empty }, [
                ("File", path),
                ("Server file name", reply.FileName),
                ("Trial mode", reply.TrialMode),
                ("Rows", reply.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("SHA-256", reply.Sha256),
                ("Recorded", "this export and its SHA-256 are in the audit trail"),
            ]);
        });
        return new Command("export", "Participant exports.") { participants };
    }
}
