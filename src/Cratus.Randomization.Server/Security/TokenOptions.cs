using System.ComponentModel.DataAnnotations;

namespace Cratus.Randomization.Server.Security;

public enum IdentityMode
{
    /// <summary>The service's own user store signs users in (IdentityService.Login) and issues tokens.</summary>
    Embedded,
    /// <summary>An external OpenID Connect issuer (Duende IdentityServer, Entra ID, Keycloak) issues the tokens.</summary>
    External,
}

/// <summary>How access tokens are issued and validated. Bound from the "Token" section.</summary>
public sealed class TokenOptions
{
    public const string Section = "Token";
    public const string AuthenticatorProvider = "Authenticator";

    public IdentityMode Mode { get; set; } = IdentityMode.Embedded;

    [Required] public string Issuer { get; set; } = "";
    [Required] public string Audience { get; set; } = "";

    /// <summary>Embedded mode: HMAC-SHA256 key the service signs and checks its tokens with, at least 32 characters.</summary>
    public string SigningKey { get; set; } = "";

    /// <summary>External mode: the issuer's base address; keys come from its discovery document and JWKS.</summary>
    public string Authority { get; set; } = "";

    /// <summary>External mode: refuse a discovery document served over plain HTTP (on by default; tests turn it off).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public string SubjectClaim { get; set; } = "sub";
    public string RoleClaim { get; set; } = "role";
    public string SiteClaim { get; set; } = "site";

    /// <summary>Lifetime of the access tokens the embedded issuer signs.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Lifetime of a refresh token (each is used once).</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(8);
}

/// <summary>Embedded user store settings. Bound from the "Identity" section.</summary>
public sealed class IdentityOptions
{
    public const string Section = "Identity";

    /// <summary>The one-time secret that creates the first administrator. When empty and no user exists, the server
    /// draws one and prints it once to the console.</summary>
    public string BootstrapSecret { get; set; } = "";

    /// <summary>Development only: create one demo user per role, all with <see cref="DemoPassword"/>.</summary>
    public bool SeedDemoUsers { get; set; }
    public string DemoPassword { get; set; } = "";

    public int MaxFailedAccessAttempts { get; set; } = 5;
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// Secrets that are committed to the repository so the quick start works. They are known to everyone, so the
/// server refuses to start with any of them outside the Development environment.
/// </summary>
public static class DevelopmentSecrets
{
    public const string SigningKey = "cratus-development-signing-key-NOT-FOR-PRODUCTION-0001";
    public const string EncryptionKey = "Y3JhdHVzLWRldi1rZXktTk9ULUZPUi1QUk9EVUNUSU8=";
    public const string DemoPassword = "Cratus-Demo-2026!";
    public const string BootstrapSecret = "cratus-development-bootstrap";
    public const string HeadSigningKey = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRbogIQS381pVe2NzmAcGHMnSDxIXDbDc/y+6S7DXjsKhRANCAATybqb0WiMw02EVn30ASo/5TYCCWJmbYWVw0lFF0/sQdpjguPLifHFxOalKponeiooiibiLc4uBLjsuAlIZ1hxg";

    // The placeholders of .env.example, for docker compose: copied unchanged, they must not work either.
    public const string SampleSigningKey = "sample-signing-key-REPLACE-with-openssl-rand-base64-48";
    public const string SampleEncryptionKey = "c2FtcGxlLXNlYWxpbmcta2V5LVJFUExBQ0UtTUUtMDA=";
    public const string SampleBootstrapSecret = "sample-bootstrap-secret-REPLACE-ME";
    public const string SampleDatabasePassword = "sample-database-password-REPLACE-ME";
    public const string SampleHeadSigningKey = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0oF1b1tJz3mz1U8foaFhE5vzaxXQXdeL8a2agxiBs2OhRANCAAQz6U86tq4S+jn9KwcxSUEjb4/lvfzIx+5hu8H+BY/IQtRrvWKxrKhGi1qQKnjkqrqg7BRfypGqKlRbI+cQfESM";

    public static IReadOnlySet<string> SigningKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { SigningKey, SampleSigningKey };
    public static IReadOnlySet<string> EncryptionKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { EncryptionKey, SampleEncryptionKey };
    public static IReadOnlySet<string> BootstrapSecrets { get; } = new HashSet<string>(StringComparer.Ordinal) { BootstrapSecret, SampleBootstrapSecret };
    public static IReadOnlySet<string> HeadSigningKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { HeadSigningKey, SampleHeadSigningKey };
    public static IReadOnlySet<string> Passwords { get; } = new HashSet<string>(StringComparer.Ordinal) { DemoPassword, SampleDatabasePassword };
}
