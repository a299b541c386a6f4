using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Randomization.Server.Security;

public static class SecurityExtensions
{
    /// <summary>JWT bearer authentication with full validation, and a fallback policy: every endpoint needs a token
    /// unless it opts out (only gRPC health does).</summary>
    public static WebApplicationBuilder AddTrialSecurity(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TokenOptions>()
            .BindConfiguration(TokenOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => builder.Environment.IsDevelopment() || !DevelopmentSecrets.All.Contains(o.SigningKey),
                "Token:SigningKey is the development key from the repository. Outside the Development environment set a " +
                "secret key of your own (at least 32 characters) through an environment variable or a secret store.")
            .ValidateOnStart();
        builder.Services.AddSingleton<CallerResolver>();
        builder.Services.AddSingleton<AccessInterceptor>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<TokenOptions>>((jwt, tokenOptions) =>
            {
                var o = tokenOptions.Value;
                jwt.MapInboundClaims = false;
                jwt.RequireHttpsMetadata = !builder.Environment.IsDevelopment();
                jwt.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = true,
                    ValidIssuer = o.Issuer,
                    ValidateAudience = true,
                    ValidAudience = o.Audience,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    RequireSignedTokens = true,
                    ValidateIssuerSigningKey = true,
                    IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(o.SigningKey)),
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    ClockSkew = TimeSpan.FromSeconds(30),
                    NameClaimType = o.SubjectClaim,
                    RoleClaimType = o.RoleClaim,
                };
            });
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        return builder;
    }
}
