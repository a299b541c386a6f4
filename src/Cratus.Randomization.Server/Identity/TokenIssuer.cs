using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Server.Persistence;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

public sealed record IssuedTokens(string AccessToken, DateTimeOffset AccessTokenExpiresAt, string RefreshToken, DateTimeOffset RefreshTokenExpiresAt);

/// <summary>Signs the embedded user store's access tokens and mints refresh tokens (random; stored only as a hash).</summary>
public sealed class TokenIssuer(IOptions<TokenOptions> options, TimeProvider clock)
{
    public (IssuedTokens Tokens, RefreshTokenRecord Record) Issue(TrialUser user)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var claims = new List<Claim> { new(o.SubjectClaim, user.UserName!), new(o.RoleClaim, user.Role) };
        claims.AddRange(user.SiteList.Select(s => new Claim(o.SiteClaim, s)));
        var accessExpires = now + o.AccessTokenLifetime;
        var access = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = o.Issuer,
            Audience = o.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = accessExpires.UtcDateTime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(o.SigningKey)), SecurityAlgorithms.HmacSha256),
        });
        var refresh = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var refreshExpires = now + o.RefreshTokenLifetime;
        var record = new RefreshTokenRecord { TokenHash = HashOf(refresh), UserId = user.Id, ExpiresAt = refreshExpires };
        return (new IssuedTokens(access, accessExpires, refresh, refreshExpires), record);
    }

    public static string HashOf(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
