using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Persistence;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace Cratus.Randomization.Server.Security;

public static partial class SecurityExtensions
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Access token refused ({Kind}): {Reason}")]
    private static partial void LogTokenRefused(ILogger logger, string kind, string reason);

    /// <summary>
    /// A call without a usable token hears why as a gRPC status a client can act on (UNAUTHENTICATED with an
    /// ErrorInfo reason: no token, expired, invalid signature, wrong issuer or audience) and the RFC 6750 challenge,
    /// never which keys or users exist. Without any token the challenge carries no error code (RFC 6750 3.1).
    /// </summary>
    private static void WriteChallenge(HttpResponse response, string realm, Exception? failure, bool hasToken)
    {
        var (reason, message) = failure switch
        {
            _ when !hasToken => (ErrorReason.TokenMissing, "No access token was sent. Sign in and send it as 'authorization: Bearer <token>'."),
            SecurityTokenExpiredException or SecurityTokenInvalidLifetimeException or SecurityTokenNotYetValidException =>
                (ErrorReason.TokenExpired, "The access token has expired (or is not valid yet). Refresh it or sign in again."),
            SecurityTokenInvalidAudienceException or SecurityTokenInvalidIssuerException =>
                (ErrorReason.TokenWrongAudience, "The access token was issued by another issuer or for another service. Sign in to this service."),
            SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException =>
                (ErrorReason.TokenInvalid, "The access token's signature is not valid. Sign in again."),
            _ => (ErrorReason.TokenInvalid, "The access token is not valid. Sign in again."),
        };
        var challenge = reason == ErrorReason.TokenMissing
            ? $"Bearer realm=\"{realm}\""
            : $"Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{message}\"";
        response.Headers.WWWAuthenticate = challenge;
        // REST calls hear the same status, which Rest.RestErrors turns into its JSON form.
        if (response.HttpContext.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            || Rest.RestExtensions.IsRest(response.HttpContext.Request))
        {
            RichStatus.Write(response, global::Grpc.Core.StatusCode.Unauthenticated, reason, message);
            return;
        }
        response.StatusCode = StatusCodes.Status401Unauthorized;
    }

    /// <summary>
    /// Access tokens (JWT bearer, fully validated) from the embedded user store or an external OpenID Connect
    /// issuer; the embedded user store itself; the sealing keys; and a fallback policy so every endpoint needs a
    /// token unless it opts out (gRPC health and sign-in only). Refuses to start outside Development with any
    /// secret committed to the repository.
    /// </summary>
    public static WebApplicationBuilder AddTrialSecurity(this WebApplicationBuilder builder)
    {
        var isDevelopment = builder.Environment.IsDevelopment();
        const string outsideDevelopment = " Outside the Development environment set your own secret through an environment variable or a secret store.";
        var isProduction = builder.Environment.IsProduction();
        builder.Services.AddOptions<TokenOptions>()
            .BindConfiguration(TokenOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Mode != IdentityMode.Embedded || Uri.TryCreate(o.Issuer, UriKind.Absolute, out _),
                "Token:Issuer must be this service's public base address (for example https://cratus.example.org/) when the built-in OpenID Connect server issues tokens.")
            .Validate(o => o.Mode != IdentityMode.Embedded || !o.RequireHttps || o.Issuer.StartsWith("https://", StringComparison.Ordinal),
                "Token:Issuer must be an https address (or set Token:RequireHttps to false, never in Production).")
            .Validate(o => isDevelopment || o.Mode != IdentityMode.Embedded || o.SigningKeys.Any(k => !string.IsNullOrWhiteSpace(k)),
                "Token:SigningKeys is empty: outside the Development environment give the built-in OpenID Connect server its RSA or ECDSA P-256 private key (PKCS#8 PEM text or a file path).")
            .Validate(SigningKeys.AllParse, "Token:SigningKeys holds a key that does not parse: each must be an RSA (2048+ bits) or ECDSA P-256 private key, PKCS#8 PEM text, its base64, or a PEM file's path.")
            .Validate(o => !isProduction || !o.AllowPasswordGrant,
                "Token:AllowPasswordGrant is for scripted tests of Development or UAT deployments; it is refused in Production.")
            .Validate(o => !isProduction || o.RequireHttps || o.Mode != IdentityMode.Embedded,
                "Token:RequireHttps is off: in Production the OpenID Connect server needs https (behind a TLS proxy, keep it on).")
            .Validate(o => o.Mode != IdentityMode.External || Uri.TryCreate(o.Authority, UriKind.Absolute, out _),
                "Token:Authority (the OpenID Connect issuer's address) is required when Token:Mode is External.")
            .ValidateOnStart();
        builder.Services.AddOptions<EncryptionOptions>()
            .BindConfiguration(EncryptionOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => !o.Problems().Any(), "Encryption settings are wrong: set Encryption:ActiveKeyId and Encryption:Keys:<id> to the base64 of 32 random bytes.")
            .Validate(o => isDevelopment || !o.Keys.Values.Any(DevelopmentSecrets.EncryptionKeys.Contains),
                "Encryption:Keys holds a development or sample key from the repository." + outsideDevelopment)
            .ValidateOnStart();
        builder.Services.AddOptions<AuditOptions>()
            .BindConfiguration(AuditOptions.Section)
            .Validate(o =>
            {
                using var key = AuditOptions.TryLoad(o.HeadSigningKey, out _);
                return key is not null;
            }, "Audit:HeadSigningKey (an ECDSA P-256 private key: PKCS#8 PEM, or the base64 of its DER) is required and must parse.")
            .Validate(o => isDevelopment || !DevelopmentSecrets.HeadSigningKeys.Contains(o.HeadSigningKey.Trim()),
                "Audit:HeadSigningKey is a development or sample key from the repository." + outsideDevelopment)
            .ValidateOnStart();
        builder.Services.AddOptions<IdentityOptions>()
            .BindConfiguration(IdentityOptions.Section)
            .Validate(o => isDevelopment || !o.SeedDemoUsers, "Identity:SeedDemoUsers creates accounts with a password from the repository; it is for Development only.")
            .Validate(o => isDevelopment || !DevelopmentSecrets.BootstrapSecrets.Contains(o.BootstrapSecret),
                "Identity:BootstrapSecret is a development or sample secret from the repository." + outsideDevelopment)
            .Validate(o => !o.SeedDemoUsers || o.DemoPassword.Length >= 12, "Identity:DemoPassword (12+ characters) is needed to seed demo users.")
            .ValidateOnStart();

        builder.Services.AddSingleton<CallerResolver>();
        builder.Services.AddSingleton<AccessInterceptor>();
        builder.Services.AddSingleton<SecretBox>();
        builder.Services.AddSingleton<IntegrityKeys>();
        builder.Services.AddSingleton<AllocationSeals>();
        builder.Services.AddSingleton<HeadSigner>();
        builder.Services.AddSingleton<AccountCheck>();
        builder.Services.AddScoped<Accounts>();
        builder.Services.AddScoped<SiteSystems>();
        builder.Services.AddScoped<UserAdministration>();
        builder.Services.AddScoped<FirstStart>();

        var identity = builder.Configuration.GetSection(IdentityOptions.Section);
        builder.Services.AddIdentityCore<TrialUser>(o =>
            {
                // Length over composition rules (NIST SP 800-63B).
                o.Password.RequiredLength = 12;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireDigit = false;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = identity.GetValue(nameof(IdentityOptions.MaxFailedAccessAttempts), 5);
                o.Lockout.DefaultLockoutTimeSpan = identity.GetValue(nameof(IdentityOptions.LockoutDuration), TimeSpan.FromMinutes(15));
                o.User.RequireUniqueEmail = false;
            })
            .AddEntityFrameworkStores<TrialDbContext>()
            .AddPasswordValidator<PasswordPolicy>()
            .AddTokenProvider<AuthenticatorTokenProvider<TrialUser>>(TokenOptions.AuthenticatorProvider);

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.AddTrialOpenIdServer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<TokenOptions>, TimeProvider, IServiceProvider>((jwt, tokenOptions, clock, services) =>
            {
                var o = tokenOptions.Value;
                var skew = TimeSpan.FromSeconds(30);
                jwt.MapInboundClaims = false;
                var parameters = new TokenValidationParameters
                {
                    ValidateIssuer = true,
                    ValidIssuer = o.Issuer,
                    ValidateAudience = true,
                    ValidAudience = o.Audience,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    // Lifetimes are judged by the service's clock, the one that stamps tokens (the real one under a rehearsal's trial clock).
                    LifetimeValidator = (notBefore, expires, _, _) =>
                    {
                        var now = Rehearsal.TrialClock.WallOf(clock).GetUtcNow().UtcDateTime;
                        return expires is { } end && end > now - skew && (notBefore is not { } start || start <= now + skew);
                    },
                    RequireSignedTokens = true,
                    ValidateIssuerSigningKey = true,
                    ClockSkew = skew,
                    NameClaimType = o.SubjectClaim,
                    RoleClaimType = o.RoleClaim,
                };
                if (o.Mode == IdentityMode.External)
                {
                    // Keys come from the issuer's discovery document and JWKS, refreshed as the issuer rotates them.
                    jwt.Authority = o.Authority;
                    jwt.RequireHttpsMetadata = o.RequireHttpsMetadata;
                    parameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];
                }
                else
                {
                    // The built-in server's own public keys, the ones its JWKS publishes (read, not fetched over HTTP).
                    parameters.ValidIssuer = services.GetRequiredService<IOptions<OpenIddictServerOptions>>().Value.Issuer!.AbsoluteUri;
                    parameters.IssuerSigningKeyResolver = (_, _, _, _) =>
                        services.GetRequiredService<IOptions<OpenIddictServerOptions>>().Value.SigningCredentials.Select(c => c.Key);
                    parameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];
                    // OpenIddict types its access tokens "at+jwt" (RFC 9068).
                    parameters.ValidTypes = ["at+jwt"];
                }
                jwt.TokenValidationParameters = parameters;
                jwt.Events = new JwtBearerEvents
                {
                    OnAuthenticationFailed = context =>
                    {
                        var logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SecurityExtensions));
                        LogTokenRefused(logger, context.Exception.GetType().Name, context.Exception.Message);
                        return Task.CompletedTask;
                    },
                    OnChallenge = context =>
                    {
                        context.HandleResponse();
                        WriteChallenge(context.Response, o.Audience, context.AuthenticateFailure, hasToken: context.Request.Headers.Authorization.Count > 0);
                        return Task.CompletedTask;
                    },
                };
            });
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        return builder;
    }
}
