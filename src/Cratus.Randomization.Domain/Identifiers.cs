using System.Security.Cryptography;

namespace Cratus.Randomization.Domain;

/// <summary>Rules for the identifiers that cross the wire, and the opaque codes the service mints.</summary>
public static class Identifiers
{
    // Crockford's base 32: no I, L, O or U, so codes survive being read aloud and hand-written on a label.
    private const string Crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// <summary>Site and arm codes: 1-16 letters, digits, '-' or '_'.</summary>
    public static bool IsValidCode(string? code) => IsToken(code, 16);

    /// <summary>A site's screening identifier: 1-32 letters, digits, '-' or '_' (no names, no dates).</summary>
    public static bool IsValidScreeningId(string? id) => IsToken(id, 32);

    /// <summary>A client's request identifier (AIP-155): a UUID in its usual 36-character form.</summary>
    public static bool IsValidRequestId(string? id) => Guid.TryParseExact(id, "D", out _);

    /// <summary>A participant id as the service mints it, or as a caller may mistype it: 1-32 token characters.</summary>
    public static bool IsValidParticipantId(string? id) => IsToken(id, 32);

    /// <summary>An unblinding request id as RequestUnblinding returns it (U- and a code).</summary>
    public static bool IsValidUnblindingRequestId(string? id) => IsToken(id, 32);

    private static bool IsToken(string? value, int maxLength) =>
        !string.IsNullOrEmpty(value) && value.Length <= maxLength &&
        value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>
    /// A fixed-length random code such as "P-7K3M9Q2XWD", drawn from <paramref name="random"/>. It carries no
    /// information: every code has the same length and alphabet whatever it is attached to.
    /// </summary>
    public static string NewOpaqueCode(string prefix, RandomNumberGenerator random, int length = 10)
    {
        Span<byte> bytes = stackalloc byte[length];
        random.GetBytes(bytes);
        Span<char> chars = stackalloc char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = Crockford[bytes[i] & 31];
        }
        return prefix + "-" + new string(chars);
    }
}
