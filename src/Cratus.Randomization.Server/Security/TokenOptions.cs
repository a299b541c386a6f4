using System.ComponentModel.DataAnnotations;

namespace Cratus.Randomization.Server.Security;

/// <summary>How access tokens are validated. Bound from the "Token" section.</summary>
public sealed class TokenOptions
{
    public const string Section = "Token";

    [Required] public string Issuer { get; set; } = "";
    [Required] public string Audience { get; set; } = "";

    /// <summary>HMAC-SHA256 key shared with the token issuer, at least 32 characters. Never the development key in production.</summary>
    [Required, MinLength(32)] public string SigningKey { get; set; } = "";

    public string SubjectClaim { get; set; } = "sub";
    public string RoleClaim { get; set; } = "role";
    public string SiteClaim { get; set; } = "site";
}

/// <summary>
/// Secrets that are committed to the repository so the quick start works. They are known to everyone, so the
/// server refuses to start with any of them outside the Development environment.
/// </summary>
public static class DevelopmentSecrets
{
    public const string SigningKey = "cratus-development-signing-key-NOT-FOR-PRODUCTION-0001";
    public const string Issuer = "cratus-development";
    public const string Audience = "cratus-randomization";

    public static IEnumerable<string> All => [SigningKey];
}
