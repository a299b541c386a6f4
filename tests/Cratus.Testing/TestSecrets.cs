using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Server.Security;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Testing;

/// <summary>
/// The keys and secrets of one test deployment (fresh for each, never the repository's), the settings that configure a
/// server with them, and the tokens they sign. Every way the tests start a server is configured from one of these.
/// </summary>
public sealed class TestSecrets
{
    public const string Issuer = "cratus-tests";
    public const string Audience = "cratus-randomization";

    public string SigningKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
    public string EncryptionKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    public string BootstrapSecret { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    /// <summary>The audit head signing key (ECDSA P-256, base64 PKCS#8).</summary>
    public string HeadSigningKey { get; } = NewHeadSigningKey();

    public static string NewHeadSigningKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }

    /// <summary>The settings of a server that trusts these secrets, with a rate limit no test reaches (the rate limit
    /// has tests of its own).</summary>
    public Dictionary<string, string> Settings() => new()
    {
        ["Token:Issuer"] = Issuer,
        ["Token:Audience"] = Audience,
        ["Token:SigningKey"] = SigningKey,
        ["Encryption:ActiveKeyId"] = "k1",
        ["Encryption:Keys:k1"] = EncryptionKey,
        ["Identity:BootstrapSecret"] = BootstrapSecret,
        ["Audit:HeadSigningKey"] = HeadSigningKey,
        ["Limits:PermitsPerSecond"] = "100000",
        ["Limits:Burst"] = "100000",
    };

    /// <summary>A token for <paramref name="subject"/> in <paramref name="role"/>, signed with these secrets (or with
    /// <paramref name="signingKey"/>), valid at <paramref name="now"/>.</summary>
    public string Token(TrialRole role, string subject, IEnumerable<string>? sites, DateTimeOffset now, TimeSpan? lifetime = null,
        string issuer = Issuer, string audience = Audience, string? signingKey = null) =>
        Sign(signingKey ?? SigningKey, role, subject, sites, now, lifetime, issuer, audience);

    /// <summary>A token as the server's own issuer makes them (HS256 with <paramref name="signingKey"/>), valid from
    /// five minutes before <paramref name="now"/> for <paramref name="lifetime"/> (30 minutes) after it.</summary>
    public static string Sign(string signingKey, TrialRole role, string subject, IEnumerable<string>? sites, DateTimeOffset now,
        TimeSpan? lifetime = null, string issuer = Issuer, string audience = Audience)
    {
        var claims = new List<Claim> { new("sub", subject), new("role", TrialRoles.ClaimValue(role)) };
        claims.AddRange((sites ?? []).Select(s => new Claim("site", s)));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            NotBefore = now.UtcDateTime.AddMinutes(-5),
            IssuedAt = now.UtcDateTime.AddMinutes(-5),
            Expires = now.UtcDateTime + (lifetime ?? TimeSpan.FromMinutes(30)),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A copy of a shipped trial definition (trial-definitions/<paramref name="shipped"/>) with text replaced,
    /// written to <paramref name="path"/>; each replacement must find its text.</summary>
    public static string WriteDefinition(string path, string shipped, IEnumerable<(string From, string To)> edits)
    {
        var definition = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "trial-definitions", shipped));
        foreach (var (from, to) in edits)
        {
            Assert.Contains(from, definition, StringComparison.Ordinal);
            definition = definition.Replace(from, to, StringComparison.Ordinal);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, definition);
        return path;
    }
}
