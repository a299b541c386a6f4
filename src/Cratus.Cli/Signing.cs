using System.CommandLine;
using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>
/// Electronic signatures (21 CFR Part 11): a signing command re-authenticates with your password (and authenticator
/// code, where enrolled) for that one action and record, then sends the single-use proof with the meaning you chose.
/// The password comes from --password, CRATUS_PASSWORD or the terminal; the code from CRATUS_TOTP or the terminal.
/// </summary>
public sealed class Signing(TextWriter output, TextReader input)
{
    public Option<string> Meaning { get; } = CreateMeaning();

    /// <summary>The signing options to add to a signed command.</summary>
    public IEnumerable<Option> Options => [Meaning];

    private static Option<string> CreateMeaning()
    {
        var meaning = new Option<string>("--meaning")
        {
            Description = "What your electronic signature means: approval, review, responsibility or authorship (required)", Required = true,
        };
        meaning.AcceptOnlyFromAmong("approval", "review", "responsibility", "authorship");
        return meaning;
    }

    public async Task<ElectronicSignature> SignAsync(CliSession session, ParseResult parsed, SignedAction action, string recordId, CancellationToken ct)
    {
        var password = SessionCommands.Secret(null, "CRATUS_PASSWORD", "Password (to sign): ", output, input);
        var totp = Environment.GetEnvironmentVariable("CRATUS_TOTP") is { Length: > 0 } fromEnvironment ? fromEnvironment
            : ReferenceEquals(input, Console.In) && !Console.IsInputRedirected
                ? SessionCommands.Secret(null, "CRATUS_TOTP", "Authenticator code (leave empty if your account has none): ", output, input)
                : "";
        var proof = await new SignatureService.SignatureServiceClient(session.Channel()).ReauthenticateAsync(
            new ReauthenticateRequest { Action = action, RecordId = recordId, Password = password, TotpCode = totp }, cancellationToken: ct);
        return new ElectronicSignature
        {
            SigningProof = proof.SigningProof,
            Meaning = parsed.GetValue(Meaning) switch
            {
                "approval" => SignatureMeaning.Approval,
                "review" => SignatureMeaning.Review,
                "responsibility" => SignatureMeaning.Responsibility,
                _ => SignatureMeaning.Authorship,
            },
        };
    }

    /// <summary>The rows that show a signature's manifestation, wherever its record is shown.</summary>
    public static IReadOnlyList<(string, string)> Rows(SignatureManifestation? s) =>
        s is null || s.FullName.Length == 0 ? [] : [("Electronic signature", s.Text), ("Record SHA-256", s.RecordSha256)];

    public static string Sha256Hex(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}
