using System.Security.Claims;
using System.Security.Cryptography;
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
    /// <summary>The built-in OpenID Connect server's issuer in tests (its endpoints answer on any address).</summary>
    public const string Issuer = "http://cratus-tests/";
    public const string Audience = "cratus-randomization";

    /// <summary>The OpenID Connect server's signing key (RSA-2048, PKCS#8 PEM), drawn for this deployment.</summary>
    public string SigningKey { get; } = NewSigningKey();

    public static string NewSigningKey()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }
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
        ["Token:SigningKeys:0"] = SigningKey,
        // No TLS in tests; the password grant lets tests sign in as a person (never allowed in Production).
        ["Token:RequireHttps"] = "false",
        ["Token:AllowPasswordGrant"] = "true",
        ["Encryption:ActiveKeyId"] = "k1",
        ["Encryption:Keys:k1"] = EncryptionKey,
        ["Identity:BootstrapSecret"] = BootstrapSecret,
        ["Audit:HeadSigningKey"] = HeadSigningKey,
        ["Limits:PermitsPerSecond"] = "100000",
        ["Limits:Burst"] = "100000",
        ["Limits:TokenEndpointPermitsPerMinute"] = "100000",
    };

    /// <summary>A token for <paramref name="subject"/> in <paramref name="role"/>, signed with these secrets (or with
    /// <paramref name="signingKey"/>), valid at <paramref name="now"/>.</summary>
    public string Token(TrialRole role, string subject, IEnumerable<string>? sites, DateTimeOffset now, TimeSpan? lifetime = null,
        string issuer = Issuer, string audience = Audience, string? signingKey = null) =>
        Sign(signingKey ?? SigningKey, role, subject, sites, now, lifetime, issuer, audience);

    /// <summary>A token shaped as the server's own OpenID Connect server makes them (an RS256 "at+jwt" signed with
    /// <paramref name="signingKey"/>, a PKCS#8 PEM), valid from five minutes before <paramref name="now"/> for
    /// <paramref name="lifetime"/> (30 minutes) after it. The server accepts it only for an account that exists with
    /// this role and these sites (TrialServer and ServerProcess create it).</summary>
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
            TokenType = "at+jwt",
            SigningCredentials = Credentials(signingKey),
        });
    }

    /// <summary>Signing credentials (RS256) from a PKCS#8 PEM RSA key, for tests that shape tokens of their own.</summary>
    public static SigningCredentials Credentials(string pem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
    }

    /// <summary>SQL (for SQLite and PostgreSQL alike, or in T-SQL for <see cref="TestDatabase.SqlServer"/>) that makes
    /// <paramref name="subject"/> an account in <paramref name="role"/> at <paramref name="sites"/>: a person with
    /// <see cref="Signing.Password"/> and a full name (so that the subject can sign), or for the site-system role a
    /// registered site system.</summary>
    public static string AccountSql(TrialRole role, string subject, IEnumerable<string>? sites, TestDatabase database = TestDatabase.Sqlite)
    {
        static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
        var siteList = Quote(string.Join(',', (sites ?? []).Distinct()));
        var roleValue = Quote(TrialRoles.ClaimValue(role));
        var sqlServer = database == TestDatabase.SqlServer;
        // SQL Server has neither ON CONFLICT nor TRUE and FALSE: a duplicate key (2601, 2627) is ignored there instead.
        string InsertOnce(string insert) => sqlServer
            ? $"BEGIN TRY {insert}; END TRY BEGIN CATCH IF ERROR_NUMBER() NOT IN (2601, 2627) BEGIN THROW; END; END CATCH;"
            : insert + " ON CONFLICT DO NOTHING;";
        var (yes, no) = sqlServer ? ("1", "0") : ("TRUE", "FALSE");
        if (role == TrialRole.SiteSystem)
            return InsertOnce($"""
                INSERT INTO "SiteSystems" ("ClientId", "DisplayName", "Sites", "RegisteredAt", "RegisteredBy", "SecretIssuedAt")
                VALUES ({Quote(subject)}, 'test system', {siteList}, '2026-11-01 00:00:00+00:00', 'tests', '2026-11-01 00:00:00+00:00')
                """) + $"""

                UPDATE "SiteSystems" SET "Sites" = {siteList}, "RevokedAt" = NULL WHERE "ClientId" = {Quote(subject)};
                """;
        var id = Quote(Guid.NewGuid().ToString());
        return InsertOnce($"""
            INSERT INTO "AspNetUsers" ("Id", "UserName", "NormalizedUserName", "EmailConfirmed", "PhoneNumberConfirmed", "TwoFactorEnabled",
                "LockoutEnabled", "AccessFailedCount", "Role", "Sites", "Active", "MustChangePassword", "SecurityStamp", "ConcurrencyStamp",
                "PasswordHash", "FullName")
            VALUES ({id}, {Quote(subject)}, {Quote(subject.ToUpperInvariant())}, {no}, {no}, {no}, {yes}, 0, {roleValue}, {siteList}, {yes}, {no}, {id}, {id},
                {Quote(Signing.PasswordHash)}, {Quote(Signing.FullNameOf(subject))})
            """) + $"""

            UPDATE "AspNetUsers" SET "Role" = {roleValue}, "Sites" = {siteList} WHERE "NormalizedUserName" = {Quote(subject.ToUpperInvariant())};
            """;
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
