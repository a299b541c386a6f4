using System.ComponentModel.DataAnnotations;

namespace Cratus.Randomization.Server.Security;

public enum IdentityMode
{
    /// <summary>The service's own OpenID Connect server (OpenIddict) signs people and site systems in and issues tokens.</summary>
    Embedded,
    /// <summary>An external OpenID Connect issuer (Duende IdentityServer, Entra ID, Keycloak) issues the tokens; the
    /// built-in server is off.</summary>
    External,
}

/// <summary>How access tokens are issued and validated. Bound from the "Token" section.</summary>
public sealed class TokenOptions
{
    public const string Section = "Token";
    public const string AuthenticatorProvider = "Authenticator";

    public IdentityMode Mode { get; set; } = IdentityMode.Embedded;

    /// <summary>The issuer: embedded mode, this service's public base address (https outside Development); external
    /// mode, the issuer named in the external issuer's tokens.</summary>
    [Required] public string Issuer { get; set; } = "";

    /// <summary>The audience of access tokens: this service.</summary>
    [Required] public string Audience { get; set; } = "";

    /// <summary>
    /// Embedded mode: the asymmetric signing keys (RSA or ECDSA P-256 private keys, PKCS#8 PEM text or the path of a
    /// PEM file). All are published in the JWKS; the first one signs. Rollover: add the new key second (published,
    /// not signing); once resource servers have fetched it, move it first; drop the old one after its tokens expired.
    /// Empty in Development: a key is generated once and kept in <see cref="DevelopmentKeyPath"/>.
    /// </summary>
    public List<string> SigningKeys { get; set; } = [];

    /// <summary>Development only: where the generated signing key is kept (relative to the content root).</summary>
    public string DevelopmentKeyPath { get; set; } = "data/development-signing-key.pem";

    /// <summary>Embedded mode: refuse OpenID Connect requests over plain HTTP (on outside Development; a TLS proxy in
    /// front of the service sets X-Forwarded-Proto).</summary>
    public bool RequireHttps { get; set; } = true;

    /// <summary>The resource-owner password grant, for scripted tests of a Development or UAT deployment only; off by
    /// default and refused at start in Production.</summary>
    public bool AllowPasswordGrant { get; set; }

    /// <summary>Redirect addresses of the web application's authorization-code client (cratus-web).</summary>
    public List<string> WebRedirectUris { get; set; } = [];

    /// <summary>External mode: the issuer's base address; keys come from its discovery document and JWKS.</summary>
    public string Authority { get; set; } = "";

    /// <summary>External mode: refuse a discovery document served over plain HTTP (on by default; tests turn it off).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public string SubjectClaim { get; set; } = "sub";
    public string RoleClaim { get; set; } = "role";
    public string SiteClaim { get; set; } = "site";

    /// <summary>Lifetime of the access tokens the embedded server signs.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Lifetime of a refresh token (each is used once: refreshing rotates it).</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>How long a node trusts what it read about an account or a token before reading it again: a closed,
    /// locked or changed account, or a revoked client or token, is refused at most this long after the change.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")] public TimeSpan AccountCheckInterval { get; set; } = TimeSpan.FromSeconds(30);
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
    public const string EncryptionKey = "Y3JhdHVzLWRldi1rZXktTk9ULUZPUi1QUk9EVUNUSU8=";
    public const string DemoPassword = "Cratus-Demo-2026!";
    public const string BootstrapSecret = "cratus-development-bootstrap";
    public const string HeadSigningKey = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRbogIQS381pVe2NzmAcGHMnSDxIXDbDc/y+6S7DXjsKhRANCAATybqb0WiMw02EVn30ASo/5TYCCWJmbYWVw0lFF0/sQdpjguPLifHFxOalKponeiooiibiLc4uBLjsuAlIZ1hxg";

    // The placeholders of .env.example, for docker compose: copied unchanged, they must not work either.
    public const string SampleEncryptionKey = "c2FtcGxlLXNlYWxpbmcta2V5LVJFUExBQ0UtTUUtMDA=";
    public const string SampleBootstrapSecret = "sample-bootstrap-secret-REPLACE-ME";
    public const string SampleDatabasePassword = "sample-database-password-REPLACE-ME";
    /// <summary>The SQL Server sample of .env.example (MSSQL_SA_PASSWORD): it meets SQL Server's password policy, so the engine starts with it and the node refuses it.</summary>
    public const string SampleSqlServerPassword = "Sample-SqlServer-Password-REPLACE-ME-1";
    public const string SampleHeadSigningKey = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0oF1b1tJz3mz1U8foaFhE5vzaxXQXdeL8a2agxiBs2OhRANCAAQz6U86tq4S+jn9KwcxSUEjb4/lvfzIx+5hu8H+BY/IQtRrvWKxrKhGi1qQKnjkqrqg7BRfypGqKlRbI+cQfESM";

    public static IReadOnlySet<string> EncryptionKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { EncryptionKey, SampleEncryptionKey };
    public static IReadOnlySet<string> BootstrapSecrets { get; } = new HashSet<string>(StringComparer.Ordinal) { BootstrapSecret, SampleBootstrapSecret };
    public static IReadOnlySet<string> HeadSigningKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { HeadSigningKey, SampleHeadSigningKey };
    public static IReadOnlySet<string> Passwords { get; } = new HashSet<string>(StringComparer.Ordinal) { DemoPassword, SampleDatabasePassword, SampleSqlServerPassword };

    // Notifications: the webhook secret of appsettings.Development.json and the placeholders of the README's example.
    public const string WebhookSecret = "cratus-development-webhook-secret-NOT-FOR-PRODUCTION";
    public const string SampleWebhookSecret = "sample-webhook-secret-REPLACE-ME-with-32-random-chars";
    public const string SampleSmtpPassword = "sample-smtp-password-REPLACE-ME";
    public static IReadOnlySet<string> NotificationSecrets { get; } = new HashSet<string>(StringComparer.Ordinal) { WebhookSecret, SampleWebhookSecret, SampleSmtpPassword, DemoPassword };
}
